"""Start-up: launch to the first training step of `make train`, vs importing torch / lightning.

Each command runs in a fresh process; the commands are interleaved and each figure is the
median over the repetitions. Two clocks: wall time from launch, and the CPU time of the
process (less noisy on a shared machine). The fit is measured with a callback
(benchmarks/first_step.py) that reports the first training batch and stops the run.

.venv/bin/python benchmarks/startup.py [--repeats 5]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]
FIT = [
    "src/main.py", "fit", "-c", "configs/data/digits.yaml", "-c", "configs/model/simplenet.yaml",
    "--trainer.callbacks+=first_step.FirstStep",
]  # fmt: skip
#: Prints the same mark as FirstStep once the imports are done.
MARK = "import time; print('first_step', time.time(), time.process_time())"


def measure(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds from launch, CPU seconds of the process) at its mark."""
    start = time.time()
    out = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    marks = [line.split() for line in out.stdout.splitlines() if line.startswith("first_step")]
    if out.returncode != 0 or not marks:
        raise SystemExit(out.stderr[-2000:])
    return float(marks[0][1]) - start, float(marks[0][2])


def main() -> None:
    """Print the medians and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    env = {**os.environ, "PYTHONPATH": str(ROOT / "benchmarks"), "PYTHONWARNINGS": "ignore"}
    commands = {
        "import torch": ["-c", f"import torch; {MARK}"],
        "import lightning": ["-c", f"import lightning; {MARK}"],
        "fit: launch to first step": FIT,
    }
    wall: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    with TemporaryDirectory() as logs:
        for _ in range(repeats):
            for name, args in commands.items():
                extra = ["--run.root", logs] if args is FIT else []
                seconds, cpu_seconds = measure(args + extra, env)
                wall[name].append(seconds)
                cpu[name].append(cpu_seconds)
    print(f"median of {repeats} interleaved runs:   wall s   CPU s")
    for name in commands:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"{name:30s} {w:6.2f}  {c:6.2f}")
    for base in ("import lightning", "import torch"):
        ratios = [
            statistics.median(clock["fit: launch to first step"]) / statistics.median(clock[base])
            for clock in (wall, cpu)
        ]
        print(f"first step / {base:17s} wall {ratios[0]:.2f}   CPU {ratios[1]:.2f}")


if __name__ == "__main__":
    main()

"""Peak memory (RSS) of the peer's MNIST work through this template, and of `import torch`.

The work of lightning-hydra-template's default run: MNIST split 55k/5k/10k, its MLP
(benchmarks/peer_mlp.py), batch 64, one epoch, then test. The MNIST files are generated
here (random pixels in MNIST's idx format and shapes; no download). Peak RSS is the
kernel's maximum resident set size of each process (`wait4`), interpreter exit included,
median of the repetitions. The peer cannot be installed here: its figures are constants
measured once on this machine, quoted in benchmarks/README.md.

.venv/bin/python benchmarks/memory.py [--repeats 3]
"""

import argparse
import os
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: Measured once for lightning-hydra-template on this machine (issue #11): peak RSS of its
#: default MNIST run, and of `import torch` in its environment, in MB.
PEER_MB = {"MNIST run": 912, "import torch": 507}


def write_mnist(root: Path) -> None:
    """Random images and labels with MNIST's shapes, as idx files under root/MNIST/raw."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 60_000), ("t10k", 10_000)):
        for kind, shape in (("images-idx3", (n, 28, 28)), ("labels-idx1", (n,))):
            high = 256 if kind.startswith("images") else 10
            array = rng.integers(0, high, size=shape, dtype=np.uint8)
            header = struct.pack(">HBB", 0, 8, len(shape)) + struct.pack(f">{len(shape)}I", *shape)
            (raw / f"{prefix}-{kind}-ubyte").write_bytes(header + array.tobytes())


def peak_mb(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of `python ARGS`."""
    start = time.time()
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(process.stderr.read().decode()[-2000:])
    return usage.ru_maxrss / 1024, time.time() - start


def main() -> None:
    """Print the peak RSS of each command, and the ratios to the peer's."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    env = {**os.environ, "PYTHONPATH": str(ROOT / "benchmarks"), "PYTHONWARNINGS": "ignore"}
    with TemporaryDirectory() as tmp:
        write_mnist(Path(tmp))
        fit = [
            "src/main.py", "fit", "-c", "configs/data/mnist.yaml",
            "-c", "configs/model/simplenet.yaml",
            "--model.net", '{"class_path": "peer_mlp.SimpleDenseNet", "init_args": '
            '{"hidden": [64, 128, 64]}}',
            "--data.data_dir", tmp, "--data.download", "false",
            "--data.val_fraction", str(5_000 / 60_000), "--data.batch_size", "64",
            "--trainer.max_epochs", "1", "--test_after_fit", "true",
            "--run.root", str(Path(tmp) / "logs"),
        ]  # fmt: skip
        commands = {"import torch": ["-c", "import torch"], "MNIST run": fit}
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(repeats):
            for name, args in commands.items():
                results[name].append(peak_mb(args, env))
                print(f"  {name}: {results[name][-1][0]:.0f} MB", flush=True)
    print(f"peak RSS, median of {repeats} runs (interpreter exit included):")
    for name, runs in results.items():
        mb = statistics.median(m for m, _ in runs)
        wall = statistics.median(s for _, s in runs)
        peer = PEER_MB[name]
        print(f"{name:14s} {mb:6.0f} MB  ({wall:5.1f} s)   peer {peer} MB   ratio {mb / peer:.2f}")
    run, torch_mb = (
        statistics.median(m for m, _ in results[k]) for k in ("MNIST run", "import torch")
    )
    peer_run = PEER_MB["MNIST run"] - PEER_MB["import torch"]
    print(f"the run above its `import torch`: {run - torch_mb:.0f} MB, peer {peer_run} MB")


if __name__ == "__main__":
    main()

"""Two trees of the template side by side: files, lines, what a fit imports, start-up, peak RSS.

For a change that moves code (the engine into `src/runforge/`): check out the tree before it
(`git worktree add /tmp/before <sha>`) and compare. Per tree: Python files and lines in
`src/`, the researcher's lines (src/ outside the engine + their configs), how many of the
`src/` files a digits fit imports, the CPU seconds from launch to the first training step,
and the peak RSS of a one-epoch digits fit. The fits are interleaved; each figure is the
median over the repetitions.

.venv/bin/python benchmarks/trees.py /tmp/before [--repeats 5]
"""

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path
from tempfile import TemporaryDirectory

ROOT = Path(__file__).resolve().parents[1]
FIT = [
    "src/main.py", "fit", "-c", "configs/data/digits.yaml", "-c", "configs/model/simplenet.yaml",
    "--trainer.max_epochs", "1",
]  # fmt: skip
#: Runs a script; at its exit prints how many `src/` files it imported and its peak RSS.
REPORT = (
    "import atexit, os, resource, runpy, sys\n"
    "src = os.path.realpath('src')\n"
    "def report():\n"
    "    files = {os.path.realpath(m.__file__) for m in list(sys.modules.values())\n"
    "             if getattr(m, '__file__', None)}\n"
    "    mine = [f for f in files if f.startswith(src + os.sep)]\n"
    "    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
    "    print('report', len(mine), rss, flush=True)\n"
    "atexit.register(report)\n"
    "sys.argv = sys.argv[1:]\n"
    "sys.path[0] = os.path.dirname(os.path.realpath(sys.argv[0]))  # as `python script` does\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)
#: The researcher's side: src/ outside the engine, and their configs.
ENGINE = "runforge"
OWN_CONFIGS = ("data", "model", "experiment", "sweep")


def lines(paths: list[Path]) -> int:
    """Lines in these files."""
    return sum(len(path.read_text().splitlines()) for path in paths)


def sizes(tree: Path) -> dict[str, int]:
    """Files and lines of `src/`; the researcher's lines (after the move: outside runforge)."""
    files = sorted((tree / "src").rglob("*.py"))
    engine = [f for f in files if ENGINE in f.relative_to(tree / "src").parts[:1]]
    configs = [f for d in OWN_CONFIGS for f in (tree / "configs" / d).rglob("*.yaml")]
    own = [f for f in files if f not in engine]
    return {
        "src .py files": len(files),
        "src lines": lines(files),
        "engine lines": lines(engine),
        "researcher lines (src + own configs)": lines(own) + lines(configs),
    }


def run(tree: Path, args: list[str], logs: Path) -> str:
    """Run `python ARGS --run.root LOGS` in `tree` (one torch thread); its stdout."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "benchmarks")}
    done = subprocess.run(
        [sys.executable, *args, "--run.root", str(logs)],
        cwd=tree, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return done.stdout


def marked(out: str, mark: str) -> list[str]:
    """The words after `mark` on its line of `out`."""
    return next(line for line in out.splitlines() if line.startswith(mark)).split()[1:]


def main() -> None:
    """Print the figures of both trees."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="the other tree (a git worktree)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": ROOT}
    figures = {name: sizes(tree) for name, tree in trees.items()}
    measured: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
    with TemporaryDirectory() as scratch:
        for repeat in range(args.repeats):
            for name, tree in trees.items():
                logs = Path(scratch) / f"{name}-{repeat}"
                out = run(tree, [*FIT, "--trainer.callbacks+=first_step.FirstStep"], logs)
                cpu = float(marked(out, "first_step")[1])
                files, rss = marked(run(tree, ["-c", REPORT, *FIT], logs), "report")
                for key, value in (("CPU s to the first step", cpu), ("peak RSS MB, 1 epoch", rss),
                                   ("src files a fit imports", files)):  # fmt: skip
                    measured[name].setdefault(key, []).append(float(value))
    for name in trees:
        for key, values in measured[name].items():
            figures[name][key] = round(statistics.median(values), 2)
    keys = list(figures["after"])
    width = max(map(len, keys))
    print(f"{'':<{width}}  {'before':>10}  {'after':>10}")
    for key in keys:
        print(f"{key:<{width}}  {figures['before'][key]:>10}  {figures['after'][key]:>10}")
    for name in trees:
        share = figures[name]["src files a fit imports"] / figures[name]["src .py files"]
        print(f"{name}: a fit imports {share:.0%} of src/'s Python files")


if __name__ == "__main__":
    main()

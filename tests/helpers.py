"""Helpers shared by the tests: run the CLI, find run directories, read files."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ["-c", "configs/data/digits.yaml", "-c", "configs/model/simplenet.yaml"]
#: A tiny fit: one epoch of two training batches and one validation batch.
TINY = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2"]
TINY += ["--trainer.limit_val_batches", "1"]
#: A git identity for commits made by tests (set in the environment only).
GIT_IDENTITY = {
    f"GIT_{who}_{field.upper()}": value
    for who in ("AUTHOR", "COMMITTER")
    for field, value in (("name", "Test"), ("email", "test@example.com"))
}


def run_main(*args: str, cwd: Path = ROOT, env: dict | None = None, timeout: int = 300):
    """Run `python src/main.py ARGS` in a subprocess; return the CompletedProcess."""
    full_env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "200", **(env or {})}
    full_env.pop("RUN_VERSION", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "src" / "main.py"), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_cli(*args: str):
    """Run the CLI in this process (faster than a subprocess); return the CLI object."""
    from unittest import mock

    from cli import CLI

    try:
        with mock.patch.object(sys, "argv", ["src/main.py"]):
            return CLI(args=list(args))
    finally:
        if "wandb" in sys.modules:  # finish a W&B run and flush its files, as process exit would
            sys.modules["wandb"].finish()
            sys.modules["wandb"].teardown()


def only_run_dir(logs: Path) -> Path:
    """The single run directory under `logs/<name>/`; fails if there is not exactly one."""
    runs = [p for p in logs.glob("*/*") if p.is_dir()]
    assert len(runs) == 1, f"expected one run directory, found {runs}"
    return runs[0]


def read_json(path: Path) -> dict:
    """Load a JSON file."""
    return json.loads(path.read_text())


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` and return its stripped output (fails the test on error)."""
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()

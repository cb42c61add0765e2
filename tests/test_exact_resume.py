"""A fit killed (SIGKILL) at any point and resumed with
`--ckpt_path last` ends with the same weights and optimizer state, bit for bit, as a fit
that was never stopped."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from helpers import DIGITS, ROOT, only_run_dir

#: Six short epochs of 8 training batches.
SIX_EPOCHS = [
    "fit", *DIGITS,
    "--trainer.max_epochs", "6",
    "--trainer.limit_train_batches", "8",
    "--trainer.limit_val_batches", "2",
]  # fmt: skip
DDP = ["--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp"]
ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}


def main_command(*args: str) -> list[str]:
    """`python src/main.py ARGS`."""
    return [sys.executable, str(ROOT / "src" / "main.py"), *args]


def start(*args: str) -> subprocess.Popen:
    """Start the CLI in its own process group (a DDP fit is several processes)."""
    return subprocess.Popen(
        main_command(*args), cwd=ROOT, env=ENV, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def epoch_of(path: Path) -> int | None:
    """The epoch stored in a checkpoint, None while there is none."""
    if not path.is_file():
        return None
    return torch.load(path, weights_only=True, map_location="cpu")["epoch"]


def wait_for_epoch(process: subprocess.Popen, logs: Path, epoch: int) -> None:
    """Wait until the fit trains in `epoch` (its run started, or the previous epoch saved)."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        runs = list(logs.glob("*/*/config.yaml"))
        if runs and epoch == 0:
            return
        if runs and (epoch_of(runs[0].parent / "checkpoints" / "last.ckpt") or -1) >= epoch - 1:
            return
        time.sleep(0.005)
    raise AssertionError(f"the fit ended or hung before epoch {epoch}: {process.stdout.read()}")


def interrupt(args: list[str], logs: Path, epoch: int, signum: int) -> Path:
    """Start a fit, send `signum` at a random point of `epoch`; return its run directory."""
    process = start(*args, "--run.root", str(logs))
    try:
        wait_for_epoch(process, logs, epoch)
        time.sleep(random.uniform(0, 0.05))
        os.killpg(process.pid, signum)
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    expected = {signal.SIGKILL: -signal.SIGKILL, signal.SIGTERM: 143, signal.SIGINT: 130}
    assert process.returncode == expected[signum], output[-3000:]
    return only_run_dir(logs)


def resume(run: Path) -> str:
    """Resume a run the way the README says; return the console output."""
    done = subprocess.run(
        main_command("fit", "-c", str(run / "config.yaml"), "--ckpt_path", "last"),
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def reference(args: list[str], logs: Path) -> dict:
    """last.ckpt of an uninterrupted fit."""
    done = subprocess.run(
        main_command(*args, "--run.root", str(logs)),
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return load_last(only_run_dir(logs))


def load_last(run: Path) -> dict:
    """The run's last.ckpt."""
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")


def max_difference(a, b) -> float:
    """Largest absolute difference between two nested structures of tensors and numbers."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        return max([max_difference(a[k], b[k]) for k in a], default=0.0)
    if isinstance(a, list | tuple):
        assert len(a) == len(b)
        return max([max_difference(x, y) for x, y in zip(a, b, strict=True)], default=0.0)
    if isinstance(a, torch.Tensor):
        return (a.double() - b.double()).abs().max().item() if a.numel() else 0.0
    if isinstance(a, int | float) and not isinstance(a, bool):
        return abs(a - b)
    assert a == b
    return 0.0


def assert_identical(resumed: dict, expected: dict) -> None:
    """Same step, weights, optimizer and scheduler state."""
    assert (resumed["epoch"], resumed["global_step"]) == (
        expected["epoch"],
        expected["global_step"],
    )
    assert max_difference(resumed["state_dict"], expected["state_dict"]) == 0.0
    assert max_difference(resumed["optimizer_states"], expected["optimizer_states"]) == 0.0
    assert max_difference(resumed["lr_schedulers"], expected["lr_schedulers"]) == 0.0


@pytest.fixture(scope="module")
def single_process_reference(tmp_path_factory) -> dict:
    """One uninterrupted six-epoch fit, shared by the single-process cases."""
    return reference(SIX_EPOCHS, tmp_path_factory.mktemp("reference") / "logs")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("epoch", "signum"),
    [(0, signal.SIGKILL), (1, signal.SIGKILL), (2, signal.SIGKILL)],
    ids=lambda value: value.name if isinstance(value, signal.Signals) else f"epoch{value}",
)  # fmt: skip
def test_an_interrupted_fit_resumes_to_identical_weights(
    tmp_path, single_process_reference, epoch, signum
):
    run = interrupt(SIX_EPOCHS, tmp_path / "logs", epoch, signum)
    resume(run)
    assert_identical(load_last(run), single_process_reference)

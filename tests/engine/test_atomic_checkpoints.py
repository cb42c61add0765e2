"""Checkpoints are written whole or not at all, in their own folder (`AtomicCheckpointIO`)."""

import errno
import io
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import pytest
import torch

from helpers import TOY, only_run_dir, run_main
from runforge.checkpoints.atomic import AtomicCheckpointIO, CheckpointWriteError
from runforge.cli.cli import main

#: A network whose checkpoint (weights and AdamW state) is about 10 MB.
BIG_NET = ["--model.net.channels", "[64, 768]"]  # a checkpoint of about 5 MB
#: One training batch per epoch and no validation: last.ckpt is rewritten after every step.
SAVE_EVERY_STEP = [
    "--trainer.limit_train_batches", "1",
    "--trainer.limit_val_batches", "0",
    "--trainer.max_epochs", "100000",
]  # fmt: skip


def temporaries(folder: Path) -> list[Path]:
    """Temporary checkpoint files in `folder`."""
    return list(folder.glob(".*.tmp"))


def modified(path: Path) -> int | None:
    """A file's modification time in nanoseconds, None while it does not exist."""
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


def loads(path: Path) -> bool:
    """Whether a checkpoint file is whole: torch reads it and it holds the weights."""
    try:
        return "state_dict" in torch.load(path, weights_only=True, map_location="cpu")
    except Exception:
        return False


def _fit_in_child(args: list[str], tmpdir: Path) -> None:
    """Run the CLI in a child forked from the fork server (its imports are reused)."""
    os.environ["TMPDIR"] = str(tmpdir)
    tempfile.tempdir = None
    torch.set_num_threads(1)
    devnull = open(os.devnull, "w")  # noqa: SIM115
    sys.stdout = sys.stderr = devnull
    os.dup2(devnull.fileno(), 1)
    os.dup2(devnull.fileno(), 2)
    main(args)


@pytest.mark.slow
def test_kills_during_checkpoint_writes_leave_no_corrupt_file(tmp_path):
    logs, tmpdir = tmp_path / "logs", Path("/dev/shm") / f"ckpt-tmp-{os.getpid()}"
    tmpdir.mkdir()  # $TMPDIR on another filesystem (tmpfs) than the checkpoints
    fit = ["fit", *TOY, *BIG_NET, *SAVE_EVERY_STEP, "--run.root", str(logs)]
    fit += ["--run.version", "killed", "--trainer.logger", "null"]
    checkpoints = logs / "default" / "killed" / "checkpoints"
    # Children of a fork server that imported this module once: cheap to start, and forked
    # from a process without threads (a fork of pytest-xdist's worker can deadlock).
    fork = multiprocessing.get_context("forkserver")
    fork.set_forkserver_preload([__name__])
    kills = mid_write = 0
    checked = []
    try:
        for _ in range(20):
            args = fit if kills == 0 else [*fit, "--ckpt_path", "last"]
            process = fork.Process(target=_fit_in_child, args=(args, tmpdir))
            process.start()
            # Wait for one save of this process to complete, then for the next to begin.
            before, deadline = modified(checkpoints / "last.ckpt"), time.monotonic() + 600
            while modified(checkpoints / "last.ckpt") == before or not temporaries(checkpoints):
                assert process.is_alive(), f"the fit ended with code {process.exitcode}"
                assert time.monotonic() < deadline, "no checkpoint was written"
                time.sleep(0.001)
            process.kill()  # SIGKILL while a checkpoint is being written
            process.join()
            assert process.exitcode == -signal.SIGKILL
            kills += 1
            mid_write += bool(temporaries(checkpoints))
            checked += [loads(checkpoint) for checkpoint in checkpoints.glob("*.ckpt")]
        assert list(tmpdir.iterdir()) == [], "nothing is written to $TMPDIR"
    finally:
        for leftover in tmpdir.iterdir():
            leftover.unlink()
        tmpdir.rmdir()
    assert kills == 20 and mid_write >= 10, (kills, mid_write)
    assert len(checked) == 20 and all(checked), f"{checked.count(False)} of {len(checked)} corrupt"
    # The resumed run's next save removes what the killed writers left.
    epochs = torch.load(checkpoints / "last.ckpt", weights_only=True)["epoch"] + 2
    result = run_main(*fit, "--ckpt_path", "last", "--trainer.max_epochs", str(epochs))
    assert result.returncode == 0, result.stderr[-3000:]
    assert temporaries(checkpoints) == []
    assert loads(checkpoints / "last.ckpt")


class _FillsUp(io.FileIO):
    """A file on a disk that fills up after `room` bytes."""

    room = 10_000  # less than one checkpoint of the test network

    def write(self, data) -> int:
        if self.tell() + len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return super().write(data)


class DiskFillsUp(AtomicCheckpointIO):
    """AtomicCheckpointIO on a disk that is full from the third checkpoint on."""

    saves = 0

    def _open(self, path: Path):
        DiskFillsUp.saves += 1
        return _FillsUp(path, "wb") if DiskFillsUp.saves > 2 else super()._open(path)


def test_a_full_disk_keeps_the_previous_checkpoint_and_says_so_in_one_line(tmp_path, capsys):
    logs = tmp_path / "logs"
    args = ["fit", *TOY, "--run.root", str(logs), "--trainer.max_epochs", "3"]
    args += ["--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1"]
    args += ["--trainer.plugins", f"{__name__}.DiskFillsUp"]
    with pytest.raises(SystemExit) as stopped, mock.patch.object(sys, "argv", ["src/main.py"]):
        main(args)
    assert stopped.value.code == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "No space left on device" in errors[0], errors
    checkpoints = only_run_dir(logs) / "checkpoints"
    assert f"{checkpoints / 'last.ckpt'}" in errors[0] or "epoch001" in errors[0]
    assert temporaries(checkpoints) == []
    last = torch.load(checkpoints / "last.ckpt", weights_only=True)
    assert last["epoch"] == 0, "the last checkpoint written whole is kept"


def test_a_killed_writers_temporary_file_is_removed_at_the_next_save(tmp_path):
    target = tmp_path / "last.ckpt"
    orphan = tmp_path / ".last.ckpt.12345.tmp"
    orphan.write_bytes(b"half a checkpoint")
    other = tmp_path / ".best.ckpt.12345.tmp"
    other.write_bytes(b"another checkpoint's")
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.ones(2)}}, target)
    assert not orphan.exists() and other.exists()
    assert torch.equal(torch.load(target, weights_only=True)["state_dict"]["w"], torch.ones(2))


def test_a_failed_write_leaves_the_old_file(tmp_path, capsys):
    target = tmp_path / "last.ckpt"
    target.write_bytes(b"old")
    io_plugin = AtomicCheckpointIO()
    io_plugin._open = lambda path: _FillsUp(path, "wb")
    with pytest.raises(CheckpointWriteError, match="No space left on device"):
        io_plugin.save_checkpoint({"w": torch.zeros(100_000)}, target)
    assert target.read_bytes() == b"old" and temporaries(tmp_path) == []
    assert capsys.readouterr().err.count("\n") == 1


def test_the_file_is_synced_before_the_rename_and_its_folder_after(tmp_path, monkeypatch):
    """On the real write path: fsync(temporary file), rename over the target, fsync(folder)."""
    calls: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor: int) -> None:
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    def replace(source, target) -> None:
        calls.append(("replace", f"{source} -> {target}"))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "checkpoints" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.ones(3)}}, target)
    [(_, temporary)] = [call for call in calls if call[0] == "fsync"][:1]
    assert Path(temporary).parent == target.parent and Path(temporary).name.endswith(".tmp")
    assert calls == [
        ("fsync", temporary),
        ("replace", f"{temporary} -> {target}"),
        ("fsync", str(target.parent)),
    ]
    assert torch.equal(torch.load(target, weights_only=True)["state_dict"]["w"], torch.ones(3))

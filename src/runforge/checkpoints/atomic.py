"""Checkpoints written whole or not at all, in their own folder.

Lightning saves through a temporary file in `$TMPDIR` and moves it; when `$TMPDIR` is on
another filesystem (a tmpfs `/tmp`) the move is a copy, and a kill during it leaves a
truncated checkpoint plus an orphan in `$TMPDIR`. Here each checkpoint is written to a
hidden temporary file beside its destination, flushed to disk (`fsync`) and renamed over
it (`os.replace`, atomic within one filesystem): a reader sees the old file or the new one.
"""

import errno
import os
import sys
from pathlib import Path
from typing import IO, Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from runforge.errors import RunStopped


class CheckpointWriteError(RunStopped):
    """A checkpoint could not be written (disk full, no permission); the old one is kept."""


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def remove_orphans(path: Path) -> None:
    """Remove temporary files of `path` left by a writer that was killed mid-write."""
    for orphan in path.parent.glob(f".{path.name}.*.tmp"):
        orphan.unlink(missing_ok=True)


def _os_error(error: BaseException | None) -> OSError | None:
    """The OSError behind `error` (torch's writer reports a failed write as a RuntimeError)."""
    while error is not None and not isinstance(error, OSError):
        error = error.__cause__ or error.__context__
    return error


def _sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (where the platform allows opening a folder)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write each checkpoint to a temporary file in its folder, fsync, then rename it in place.

    A write that fails (a full disk) removes its temporary file, keeps the previous
    checkpoint and stops the run with one `error:` line. Temporary files of a writer that
    was killed are removed at the next save of the same checkpoint.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        """Save `checkpoint` to `path` atomically."""
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_orphans(path)
        temporary = _temporary(path)
        try:
            with self._open(temporary) as file:
                torch.save(checkpoint, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except (OSError, RuntimeError) as raised:
            temporary.unlink(missing_ok=True)
            error = _os_error(raised)
            if error is None:
                raise
            reason = os.strerror(error.errno) if error.errno else str(error)
            kept = "the previous one is unchanged" if path.is_file() else "none was written"
            message = f"error: could not write checkpoint {path}: {reason}; {kept}"
            if error.errno == errno.ENOSPC:
                message += ". Free disk space, then resume with --ckpt_path last"
            print(message, file=sys.stderr, flush=True)
            raise CheckpointWriteError(message) from error
        _sync_folder(path.parent)

    def _open(self, path: Path) -> IO[bytes]:
        """Open the temporary file for writing."""
        return open(path, "wb")  # noqa: SIM115 (closed by the caller's `with`)

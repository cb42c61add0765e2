"""SIGTERM and Ctrl-C stop a fit after the current batch, save it and exit non-zero.

Without it Lightning stops on SIGTERM but exits 0 (a scheduler sees success), and a
Ctrl-C shuts down without saving where training was.
"""

import os
import shlex
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from runs.directory import CHECKPOINTS, run_dir

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def last_checkpoint(trainer: Trainer) -> Path:
    """Where the run's `last.ckpt` lives (the checkpoint callbacks' folder)."""
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.dirpath:
            return Path(callback.dirpath) / f"{ModelCheckpoint.CHECKPOINT_NAME_LAST}.ckpt"
    return run_dir(trainer) / CHECKPOINTS / "last.ckpt"


def resume_command(run_dir: Path) -> str:
    """The command that resumes the run in `run_dir` from its last checkpoint."""
    config = run_dir / "config.yaml"
    return shlex.join(["python", "src/main.py", "fit", "-c", str(config), "--ckpt_path", "last"])


class StopOnSignal(Callback):
    """On SIGTERM or Ctrl-C (SIGINT): finish the batch, save `last.ckpt` there, exit 143 / 130.

    The run directory and the command that resumes it are printed; the resumed fit
    continues with the next batch, as if it had never stopped. A second Ctrl-C stops at
    once, without saving (the checkpoints written before stay whole).
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._trainer: Trainer | None = None
        self._previous: dict[int, Any] = {}

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Take over SIGTERM and SIGINT for the fit (Lightning chains its SIGTERM handler)."""
        if stage != "fit" or self._previous:
            return
        self._trainer, self.signum = trainer, None
        try:
            self._previous = {signum: signal.signal(signum, self._handle) for signum in SIGNALS}
        except ValueError:  # not the main thread: signals stay as they are
            self._previous = {}

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Give the signals back to their previous handlers."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous, self._trainer = {}, None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            sys.stderr.write("\nSecond interrupt: stopped at once, without saving.\n")
            sys.stderr.flush()
            os._exit(128 + signum)
        name = signal.Signals(signum).name
        if self.signum is None:
            sys.stderr.write(f"\n{name} received: stopping after the current batch ...\n")
            self.signum = signum
        if self._trainer is not None:
            # Lightning's own flag: its loops stop at the next batch boundary, all DDP ranks
            # at the same one.
            self._trainer._signal_connector.received_sigterm = True

    def on_exception(
        self, trainer: Trainer, pl_module: LightningModule, exception: BaseException
    ) -> None:
        """Save `last.ckpt` where the fit stopped, say how to resume, set the exit code."""
        if self.signum is None or not isinstance(exception, SIGTERMException):
            return
        path = last_checkpoint(trainer)
        trainer.save_checkpoint(path)
        exception.code = 128 + self.signum
        if trainer.is_global_zero:
            folder = run_dir(trainer)
            name = signal.Signals(self.signum).name
            print(
                f"Stopped by {name} in epoch {trainer.current_epoch} after step "
                f"{trainer.global_step}; saved {path}\n"
                f"Run directory: {folder}\n"
                f"Resume with: {resume_command(folder)}",
                file=sys.stderr,
                flush=True,
            )

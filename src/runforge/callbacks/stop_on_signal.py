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

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar
from lightning.pytorch.utilities.exceptions import SIGTERMException

from runforge.compat import restore_at_teardown, stop_after_this_batch
from runforge.runs.directory import CHECKPOINTS, run_dir

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
    continues with the next batch, as if it had never stopped. A signal that comes after
    the last batch of an epoch stops once the epoch's validation and checkpoints are done,
    so that the resumed fit starts the next epoch. A second Ctrl-C stops at once, without
    saving (the checkpoints written before stay whole).

    The signal handler only takes note. The fit stops at the end of a training batch or
    epoch, where every process of a multi-process (DDP) run is: there the processes agree
    (one small all-reduce a batch, on a CPU process group) and all stop at the same point,
    whichever of them got the signal. Lightning's own SIGTERM handler, which talks to the
    other processes from inside the signal handler and so can deadlock them, is replaced
    once training starts.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._trainer: Trainer | None = None
        self._previous: dict[int, Any] = {}
        #: Between the last training batch of an epoch and the epoch's end.
        self._epoch_ending = False
        #: The CPU process group the processes of a multi-process fit agree in.
        self._group: Any = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Take over SIGTERM and SIGINT for the fit."""
        if stage != "fit" or self._previous:
            return
        self._trainer, self.signum, self._epoch_ending = trainer, None, False
        try:
            self._previous = {signum: signal.signal(signum, self._handle) for signum in SIGNALS}
        except ValueError:  # not the main thread: signals stay as they are
            self._previous = {}

    def on_sanity_check_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Take SIGTERM back from Lightning, which registers its handler after `setup`."""
        self._replace_lightnings_handler()

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Take SIGTERM back from Lightning; make the group the processes agree in."""
        self._replace_lightnings_handler()
        if trainer.world_size > 1 and torch.distributed.is_initialized() and self._group is None:
            self._group = torch.distributed.new_group(backend="gloo")

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Give the signals back to their previous handlers."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous, self._trainer, self._group = {}, None, None

    def _replace_lightnings_handler(self) -> None:
        if not self._previous or self._trainer is None:
            return
        if signal.getsignal(signal.SIGTERM) != self._handle:
            signal.signal(signal.SIGTERM, self._handle)
        # Lightning noted our handlers as the ones to restore at its teardown, which runs
        # after an exception too (our `teardown` does not): it restores the ones before ours.
        restore_at_teardown(self._trainer, self._previous)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            sys.stderr.write("\nSecond interrupt: stopped at once, without saving.\n")
            sys.stderr.flush()
            os._exit(128 + signum)
        if self.signum is None:
            self.signum = signum
            when = "at the end of this epoch" if self._epoch_ending else "after the current batch"
            if self._trainer is None or self._trainer.is_global_zero:  # once, not per rank
                name = signal.Signals(signum).name
                sys.stderr.write(f"\n{name} received: stopping {when} ...\n")

    def _stop_if_signalled(self, trainer: Trainer) -> None:
        """Set Lightning's stop flag if any process got a signal; all processes decide alike.

        Its loops then stop at once: after this batch or, at an epoch's end, after the epoch.
        """
        signum = self.signum or 0
        if self._group is not None:
            agreed = torch.tensor([signum])
            torch.distributed.all_reduce(agreed, torch.distributed.ReduceOp.MAX, self._group)
            signum = int(agreed.item())
        if signum:
            self.signum = signum
            stop_after_this_batch(trainer)

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Stop after this batch if signalled; after an epoch's last batch, at the epoch's end."""
        self._epoch_ending = trainer.fit_loop.epoch_loop.batch_progress.is_last_batch
        if not self._epoch_ending:
            self._stop_if_signalled(trainer)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Stop here if a signal came while the epoch was ending."""
        self._epoch_ending = False
        self._stop_if_signalled(trainer)

    def on_exception(
        self, trainer: Trainer, pl_module: LightningModule, exception: BaseException
    ) -> None:
        """Save `last.ckpt` where the fit stopped, say how to resume, set the exit code."""
        if self.signum is None or not isinstance(exception, SIGTERMException):
            return
        path = last_checkpoint(trainer)
        trainer.save_checkpoint(path, weights_only=False)
        exception.code = 128 + self.signum
        bar = trainer.progress_bar_callback
        if isinstance(bar, RichProgressBar):  # stop its live display, which would draw over us
            bar.on_exception(trainer, pl_module, exception)
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

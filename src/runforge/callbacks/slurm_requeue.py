"""Requeue a SLURM batch job shortly before its time limit, with no work in the signal handler."""

import os
import signal
import subprocess
from types import FrameType
from typing import Any, Literal

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from runforge.runs.slurm import batch_job_id


class SLURMRequeue(Callback):
    """On SLURM's warning signal, requeue the job: SLURM stops it and later starts it again.

    `#SBATCH --signal=SIGUSR1@90 --requeue` (as in `scripts/slurm/train.sbatch`) has SLURM
    send the signal 90 s before the time limit. The handler only notes it; after the current
    training batch the first process runs `scontrol requeue <job>`; SLURM then stops every
    process (SIGTERM: Lightning ends after the current batch) and queues the job again. The
    requeued job runs the same command, works in the same run directory (`slurm-<job>`) and
    resumes from its newest checkpoint (see `runforge.runs.slurm`). Outside a SLURM batch job it
    does nothing.

    It takes the place of Lightning's own handler for the signal (Lightning leaves a handler
    it finds in place), which saves a checkpoint and requeues inside the signal handler and
    can deadlock there on a lock that the interrupted code holds.

    Args:
        signal_name: The signal named in the batch script's `--signal`.
    """

    def __init__(self, signal_name: Literal["SIGUSR1", "SIGUSR2"] = "SIGUSR1") -> None:
        self.signum = signal.Signals[signal_name]
        self._noted = False
        self._previous: Any = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """In a SLURM batch job's fit, note the signal from now on."""
        if stage == "fit" and batch_job_id() is not None:
            self._previous = signal.signal(self.signum, self._note)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self._noted = True

    def on_train_batch_end(self, trainer: Trainer, *args: Any) -> None:
        """Requeue the job once the signal has come (from the first process only)."""
        if not self._noted:
            return
        self._noted = False
        if trainer.is_global_zero:
            _requeue()

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Give the signal back to the handler it had before."""
        if self._previous is not None:
            signal.signal(self.signum, self._previous)
            self._previous = None


def _requeue() -> None:
    """`scontrol requeue` this job (or array task), saying whether it worked."""
    array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
    job = f"{array_job}_{os.environ['SLURM_ARRAY_TASK_ID']}" if array_job else batch_job_id()
    try:
        done = subprocess.run(["scontrol", "requeue", str(job)], capture_output=True, text=True)
    except OSError as error:
        rank_zero_warn(f"SLURM job {job} could not be requeued: {error}")
        return
    if done.returncode:
        rank_zero_warn(f"`scontrol requeue {job}` failed: {done.stderr.strip()}")
    else:
        rank_zero_info(f"SLURM job {job} requeued: it resumes this run when it starts again")

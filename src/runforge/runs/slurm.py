"""SLURM batch jobs: the run a job works in, and the checkpoint a requeued job resumes from.

Lightning treats a process as part of a SLURM job when `SLURM_NTASKS` is set and the job
is not an interactive shell (`SLURM_JOB_NAME` `bash` or `interactive`). Such a job is
requeued on SLURM's warning signal (`runforge.callbacks.SLURMRequeue`, or Lightning's own handler,
which also saves `hpc_ckpt_<n>.ckpt` in the run directory). The requeued job runs the same
command again, with the same `SLURM_JOB_ID` and `SLURM_RESTART_COUNT` >= 1: it names the
same run (`runforge.runs.directory.launcher_version`) and resumes it.
"""

import os
from pathlib import Path

from lightning.pytorch.utilities import rank_zero_info


def batch_job_id() -> str | None:
    """The job id when Lightning runs under SLURM (a batch job, not an interactive shell)."""
    job = os.environ.get("SLURM_JOB_ID")
    interactive = os.environ.get("SLURM_JOB_NAME") in ("bash", "interactive")
    return job if job and "SLURM_NTASKS" in os.environ and not interactive else None


def requeued_checkpoint(run_path: Path, last: Path) -> Path | None:
    """In a requeued SLURM job, the newest checkpoint of the run to resume from, else None.

    The candidates are Lightning's `<run_path>/hpc_ckpt_<n>.ckpt` (saved on the requeue
    signal) and `last` (saved after every epoch; the only one left when the job was killed
    without the signal, e.g. by a node failure).
    """
    if batch_job_id() is None or int(os.environ.get("SLURM_RESTART_COUNT", "0")) < 1:
        return None
    found = [p for p in (*run_path.glob("hpc_ckpt_*.ckpt"), last) if p.is_file()]
    if not found:
        return None
    newest = max(found, key=lambda p: p.stat().st_mtime)
    restarts = os.environ["SLURM_RESTART_COUNT"]
    rank_zero_info(f"SLURM job {batch_job_id()} requeued ({restarts}x): resuming {newest}")
    return newest

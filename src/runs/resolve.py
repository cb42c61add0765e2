"""Decide which run directory a command works in and which checkpoint it loads."""

from pathlib import Path

import torch
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from runs.directory import CONFIG_NAME, RunDirectory, RunError
from runs.slurm import requeued_checkpoint

LAST = "last.ckpt"


def best_checkpoint_of(run: RunDirectory) -> Path:
    """The best checkpoint recorded by `ModelCheckpoint` in the run's `last.ckpt`."""
    last = run.checkpoints / LAST
    if not last.is_file():
        raise RunError(f"--ckpt_path best: {last} not found, so the best checkpoint is unknown")
    state = torch.load(last, map_location="cpu", weights_only=True, mmap=True).get("callbacks", {})
    for key, value in state.items():
        monitored = key.startswith("ModelCheckpoint") and value.get("monitor") is not None
        if monitored and value.get("best_model_path"):
            best = Path(value["best_model_path"])
            if best.is_file():
                return best
            raise RunError(f"--ckpt_path best: {best} (recorded in {last}) no longer exists")
    raise RunError(f"--ckpt_path best: {last} records no best checkpoint; pass a path instead")


def _find_run(run: RunDirectory, keyword: str) -> RunDirectory:
    if run.version is not None:
        return run
    newest = run.newest_with(f"checkpoints/{LAST}")
    if newest is None:
        raise RunError(
            f"--ckpt_path {keyword}: no run of {Path(run.root, run.name)} has checkpoints/{LAST}; "
            "give --run.version or a checkpoint path"
        )
    rank_zero_info(f"--ckpt_path {keyword}: using the newest run, {newest.path}")
    return newest


def _stopped_before_its_first_checkpoint(run: RunDirectory, keyword: str, subcommand: str) -> bool:
    """A fit of this run started (its config.yaml is there) but wrote no checkpoint yet."""
    started = (run.path / CONFIG_NAME).is_file()
    empty = not any(run.checkpoints.glob("*.ckpt"))
    return keyword == "last" and subcommand == "fit" and started and empty


def resolve_run(
    run: RunDirectory, ckpt_path: str | None, subcommand: str
) -> tuple[RunDirectory, str | None]:
    """Return the run directory to work in and the checkpoint file to load (or None).

    - `last` / `best`: that checkpoint of the given run (`--run.version`), or of the
      newest run of the experiment. `fit --ckpt_path last` in a run stopped before its
      first checkpoint starts that run again from the beginning.
    - a file path: it must exist; a checkpoint inside a run's `checkpoints/` folder makes
      the command work in that run (resume, or evaluate into it).
    - nothing: a new run (a fresh version unless one is given). `fit` refuses to start
      over in a run that already has checkpoints, except in a requeued SLURM job, which
      resumes the run from its newest checkpoint (see `runs.slurm`).
    """
    if ckpt_path in ("last", "best"):
        run = _find_run(run, ckpt_path)
        if _stopped_before_its_first_checkpoint(run, ckpt_path, subcommand):
            rank_zero_warn(
                f"--ckpt_path last: {run.path} was stopped before its first checkpoint; "
                "it starts again from the beginning"
            )
            return run, None
        path = run.checkpoints / LAST if ckpt_path == "last" else best_checkpoint_of(run)
        if not path.is_file():
            raise RunError(f"--ckpt_path last: {path} not found")
        return run, str(path)
    if ckpt_path is not None:
        path = Path(ckpt_path)
        if not path.is_file():
            raise RunError(f"--ckpt_path {ckpt_path}: file not found")
        owner = RunDirectory.of_checkpoint(path)
        return owner or (run if run.version else run.with_new_version()), ckpt_path
    if subcommand != "fit":
        rank_zero_warn(
            f"`{subcommand}` without --ckpt_path uses the model as configured (untrained "
            "weights); pass --ckpt_path best, last or a checkpoint file"
        )
    if run.version is None:
        run = run.with_new_version()  # a launch id (torchrun, srun) may name an earlier run
    if subcommand != "fit":
        return run, None
    requeued = requeued_checkpoint(run.path, run.checkpoints / LAST)
    if requeued is not None:
        return run, str(requeued)
    if run.checkpoints.is_dir() and any(run.checkpoints.iterdir()):
        raise RunError(
            f"{run.path} already has checkpoints. Resume it with --ckpt_path last, "
            "or start a new run with --run.version null (or another name)"
        )
    return run, None

"""Decide which run directory a command works in and which checkpoint it loads."""

import pickle
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from runforge.runs.directory import CONFIG_NAME, RunDirectory, RunError
from runforge.runs.slurm import requeued_checkpoint

if TYPE_CHECKING:
    from lightning.pytorch import Trainer

LAST = "last.ckpt"


def best_checkpoint(states: Iterable[Mapping[str, Any]]) -> Path | None:
    """The best checkpoint recorded by the first `ModelCheckpoint` that monitors a metric.

    `states` are `ModelCheckpoint` states: `[c.state_dict() for c in
    trainer.checkpoint_callbacks]` during a run, or the ones saved in a checkpoint. The
    path is returned as recorded (check that it still exists); None when none is recorded.
    """
    for state in states:
        if state.get("monitor") is not None and state.get("best_model_path"):
            return Path(state["best_model_path"])
    return None


def trained_best(trainer: "Trainer") -> Path | None:
    """The best checkpoint this trainer's `ModelCheckpoint` saved, if the file exists."""
    best = best_checkpoint(c.state_dict() for c in trainer.checkpoint_callbacks)
    return best if best is not None and best.is_file() else None


def check_checkpoint(path: Path, named: str | None = None) -> None:
    """RunError unless torch's safe loading reads `path` (nothing in the file is run).

    `named` is how the message names the file (default: `--ckpt_path <path>`).
    """
    named = named or f"--ckpt_path {path}"
    if path.stat().st_size == 0:
        raise RunError(f"{named}: the file is empty; give another checkpoint")
    try:
        from runforge.checkpoints.checkpoint_file import read_checkpoint

        read_checkpoint(path)
    except pickle.UnpicklingError:
        raise RunError(
            f"{named}: it holds Python objects that safe loading refuses (code, classes), so it "
            "was not loaded; use a checkpoint written by this template"
        ) from None
    except Exception as error:  # truncated, not a torch file, ...
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:120]
        raise RunError(
            f"{named}: not a readable checkpoint (truncated or not written by torch: "
            f"{reason}); give another checkpoint"
        ) from None


def best_checkpoint_of(run: RunDirectory) -> Path:
    """The best checkpoint of a finished or stopped run, as recorded in its `last.ckpt`."""
    last = run.checkpoints / LAST
    if not last.is_file():
        raise RunError(f"--ckpt_path best: {last} not found, so the best checkpoint is unknown")
    check_checkpoint(last, f"--ckpt_path best: {last} (which names the best checkpoint)")
    from runforge.checkpoints.checkpoint_file import read_checkpoint

    state = read_checkpoint(last).get("callbacks", {})
    best = best_checkpoint(v for k, v in state.items() if k.startswith("ModelCheckpoint"))
    if best is None:
        raise RunError(f"--ckpt_path best: {last} records no best checkpoint; pass a path instead")
    if not best.is_file():
        raise RunError(f"--ckpt_path best: {best} (recorded in {last}) no longer exists")
    return best


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
      resumes the run from its newest checkpoint (see `runforge.runs.slurm`).
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
        check_checkpoint(path)
        return run, str(path)
    if ckpt_path is not None:
        path = Path(ckpt_path)
        if not path.is_file():
            raise RunError(f"--ckpt_path {ckpt_path}: file not found")
        check_checkpoint(path)
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

"""Settle which loggers and callbacks run, then point the trainer's outputs at the run directory.

`settle_trainer` edits the config that `config.yaml` records, so it names what runs.
`place_trainer_outputs` edits only the copy that is built: each logger keeps its local
files in the run directory (TensorBoard in `<run>/tensorboard/`, CSV in `<run>/csv/`,
W&B in `<run>/wandb/`) and checkpoints go to `<run>/checkpoints/`. A logger whose runs
live in a central store or service (W&B, MLflow) has its run id recorded in
`<run>/logger_runs.json`; later commands in the same run directory continue that run.
"""

from collections.abc import Callable
from pathlib import Path
from pkgutil import resolve_name
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch.callbacks import (
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    ProgressBar,
)
from lightning.pytorch.loggers import CSVLogger, MLFlowLogger, TensorBoardLogger, WandbLogger
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from runforge.errors import ConfigError
from runforge.records.logger_runs import read_logger_runs
from runforge.runs.directory import RunDirectory, RunError
from runforge.runs.trainer_values import check_trainer_values

Placer = Callable[[Namespace, RunDirectory], None]

#: The logger used for `trainer.logger: true` or `null` (Lightning's default).
DEFAULT_LOGGER = "runforge.loggers.TensorBoardLogger"

#: Lightning loggers that work, but not as a run of this template expects.
CAVEATS = {
    "CSVLogger": "starts metrics.csv over when the run is resumed; "
    "runforge.loggers.CSVLogger appends",
    "MLFlowLogger": "copies $MLFLOW_TRACKING_URI into config.yaml and defaults to ./mlruns; "
    "runforge.loggers.MLFlowLogger keeps the URI out and a local store under run.root",
}


def _in_subfolder(folder: str) -> Placer:
    """Loggers with save_dir/name/version write into `<run>/<folder>/`."""

    def place(init_args: Namespace, run: RunDirectory) -> None:
        init_args.save_dir = str(run.path)
        init_args.name = ""
        init_args.version = folder

    return place


def _place_wandb(init_args: Namespace, run: RunDirectory) -> None:
    """W&B writes `<run>/wandb/`; a recorded run id resumes the same W&B run."""
    init_args.save_dir = str(run.path)
    init_args.dir = None
    if init_args.get("name") is None:
        init_args.name = f"{run.name}/{run.version}"
    recorded = read_logger_runs(run.path).get("wandb")
    if recorded and not init_args.get("id") and not init_args.get("version"):
        init_args.id = recorded


def _place_mlflow(init_args: Namespace, run: RunDirectory) -> None:
    """MLflow's store is shared by all runs under the logs root; the run id comes from the run."""
    if "save_dir" in init_args:
        init_args.save_dir = str(run.root)
    if init_args.get("experiment_name") in (None, "lightning_logs"):
        init_args.experiment_name = run.name
    if init_args.get("run_name") is None:
        init_args.run_name = run.version
    recorded = read_logger_runs(run.path).get("mlflow")
    if recorded and not init_args.get("run_id"):
        init_args.run_id = recorded


def _place_tensorboard(init_args: Namespace, run: RunDirectory) -> None:
    """TensorBoard writes `<run>/tensorboard/`, versioned as the run (the progress bar v_num)."""
    init_args.save_dir, init_args.name, init_args.version = run.root, run.name, run.version
    init_args.sub_dir = "tensorboard"


def _save_dir_only(init_args: Namespace, run: RunDirectory) -> None:
    if "save_dir" in init_args:
        init_args.save_dir = str(run.path)


#: How each logger type is pointed at the run; the first matching base class wins.
#: Loggers not listed get their `save_dir` (if any) set to the run directory.
LOGGER_PLACERS: list[tuple[type, Placer]] = [
    (TensorBoardLogger, _place_tensorboard),
    (CSVLogger, _in_subfolder("csv")),
    (WandbLogger, _place_wandb),
    (MLFlowLogger, _place_mlflow),
]


def _as_list(value: Any) -> list:
    if value is None or isinstance(value, bool):
        return []
    return value if isinstance(value, list) else [value]


def _keep_callbacks(trainer: Namespace, keep: Callable[[Namespace], bool]) -> list[Namespace]:
    """Keep the configured callbacks for which `keep(callback)` holds; return the others."""
    callbacks = _as_list(trainer.get("callbacks"))
    left_out = [c for c in callbacks if not keep(c)]
    if left_out:
        trainer.callbacks = [c for c in callbacks if keep(c)]
    return left_out


def _drop_kind(trainer: Namespace, kind: type, reason: str) -> None:
    """Leave out the configured callbacks of `kind`, which would stop the run, saying why."""
    if _keep_callbacks(trainer, lambda c: not issubclass(resolve_name(c.class_path), kind)):
        rank_zero_info(f"{reason}: {kind.__name__} is left out")


def drop_callbacks(trainer: Namespace, names: list[str]) -> None:
    """Leave out the configured callbacks named in `names` (class name or full class path)."""
    for name in names:

        def other(callback: Namespace, name: str = name) -> bool:
            return name not in (callback.class_path, callback.class_path.rpartition(".")[2])

        if not _keep_callbacks(trainer, other):
            configured = [c.class_path.rpartition(".")[2] for c in _as_list(trainer.callbacks)]
            raise ConfigError(
                f"drop_callbacks: no configured callback is named {name!r}; "
                f"trainer.callbacks has {', '.join(configured) or 'none'}"
            )


def settle_trainer(trainer: Namespace, drop: list[str]) -> None:
    """Make the trainer config name what runs (this is what `config.yaml` records).

    The default logger gets its class named, an exact repeat of a logger is kept once,
    the callbacks in `drop` are left out, and so are callbacks that would stop the run:
    `LearningRateMonitor` without a logger, `EarlyStopping` without validation, a progress
    bar with `enable_progress_bar: false`.
    """
    if trainer.get("logger") in (None, True):  # Lightning's default logger, named
        default = Namespace(save_dir="logs")  # like every logger, pointed into the run
        trainer.logger = [Namespace(class_path=DEFAULT_LOGGER, init_args=default)]
    loggers = _as_list(trainer.get("logger"))
    unique = [lg for i, lg in enumerate(loggers) if not any(lg == kept for kept in loggers[:i])]
    if len(unique) < len(loggers):
        trainer.logger = unique
    for logger in unique:
        module, _, name = logger.class_path.rpartition(".")
        if module.startswith("lightning.pytorch.loggers") and name in CAVEATS:
            rank_zero_warn(f"trainer.logger: Lightning's {name} {CAVEATS[name]}")
    drop_callbacks(trainer, drop)
    if not unique:
        _drop_kind(trainer, LearningRateMonitor, "No logger is configured")
    if trainer.get("limit_val_batches") == 0:
        _drop_kind(trainer, EarlyStopping, "Validation is off (limit_val_batches=0)")
    if trainer.get("enable_progress_bar") is False:
        _drop_kind(trainer, ProgressBar, "The progress bar is off (enable_progress_bar=false)")


def _check_distinct_folders(loggers: list) -> None:
    seen: dict[tuple, str] = {}
    for logger in loggers:
        args = logger.init_args
        if "version" not in args or not isinstance(args.get("version"), str):
            continue
        folder = (args.get("save_dir"), args.get("name"), args.version)
        if folder in seen:
            raise RunError(
                f"trainer.logger: {seen[folder]} and {logger.class_path} would both write to "
                f"{Path(*[part for part in folder if part])}; keep one of them"
            )
        seen[folder] = logger.class_path


def place_trainer_outputs(trainer: Namespace, run: RunDirectory) -> None:
    """Point the trainer's root, loggers, checkpoint callbacks and profiler at `run`."""
    check_trainer_values(trainer)
    trainer.default_root_dir = str(run.path)
    loggers = _as_list(trainer.get("logger"))
    for logger in loggers:
        cls = resolve_name(logger.class_path)
        placer = next((p for base, p in LOGGER_PLACERS if issubclass(cls, base)), _save_dir_only)
        placer(logger.init_args, run)
    _check_distinct_folders(loggers)
    profiler = trainer.get("profiler")
    if isinstance(profiler, Namespace) and profiler.get("init_args") is not None:
        if profiler.init_args.get("dirpath") is None:  # its report goes into the run
            profiler.init_args.dirpath = str(run.path)
    for callback in _as_list(trainer.get("callbacks")):
        if not issubclass(resolve_name(callback.class_path), ModelCheckpoint):
            continue
        if callback.init_args.get("dirpath") is None:
            callback.init_args.dirpath = str(run.checkpoints)
        if trainer.get("fast_dev_run"):
            # Lightning skips checkpoints in fast_dev_run, except `last.ckpt` at train end.
            callback.init_args.save_last = False

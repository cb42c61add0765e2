"""Point every output of the trainer (loggers, checkpoints, default root) at the run directory.

Each logger keeps its local files in the run directory: TensorBoard in `<run>/tensorboard/`,
CSV in `<run>/csv/`, W&B in `<run>/wandb/`. A logger whose runs live in a central store
or service (W&B, MLflow) has its run id recorded in `<run>/logger_runs.json` when the run
starts; later commands in the same run directory (resume, test) continue that logger run.
"""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch.callbacks import (
    Callback,
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
)
from lightning.pytorch.loggers import (
    CSVLogger,
    MLFlowLogger,
    TensorBoardLogger,
    WandbLogger,
)
from lightning.pytorch.utilities import rank_zero_info

from runs.directory import RunDirectory, RunError
from runs.logger_runs import read_logger_runs
from utils.imports import import_class

Placer = Callable[[Namespace, RunDirectory], None]

#: Lightning loggers replaced by the template's drop-in variants (same arguments): CSV
#: appends on resume, TensorBoard records hyperparameters without a dummy `hp_metric`,
#: MLflow defaults to a local store and keeps `$MLFLOW_TRACKING_URI` out of the config.
DROP_IN_LOGGERS = {
    "lightning.pytorch.loggers.TensorBoardLogger": "loggers.TensorBoardLogger",
    "lightning.pytorch.loggers.tensorboard.TensorBoardLogger": "loggers.TensorBoardLogger",
    "lightning.pytorch.loggers.CSVLogger": "loggers.CSVLogger",
    "lightning.pytorch.loggers.csv_logs.CSVLogger": "loggers.CSVLogger",
    "lightning.pytorch.loggers.MLFlowLogger": "loggers.MLFlowLogger",
    "lightning.pytorch.loggers.mlflow.MLFlowLogger": "loggers.MLFlowLogger",
}


#: The logger used for `trainer.logger: true` or `null` (Lightning's default).
DEFAULT_LOGGER = "loggers.TensorBoardLogger"


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


def place_logger(logger: Namespace, run: RunDirectory) -> None:
    """Set the location arguments of one logger's config so its files land in the run."""
    if logger.class_path in DROP_IN_LOGGERS:
        logger.class_path = DROP_IN_LOGGERS[logger.class_path]
        env_uri = os.environ.get("MLFLOW_TRACKING_URI")
        if env_uri and logger.init_args.get("tracking_uri") == env_uri:
            logger.init_args.tracking_uri = None  # Lightning's default copied the environment
    cls = import_class(logger.class_path, "trainer.logger")
    placer = next((p for base, p in LOGGER_PLACERS if issubclass(cls, base)), _save_dir_only)
    placer(logger.init_args, run)


def _dedupe_loggers(trainer: Namespace) -> list:
    """Drop exact repeats (a preset adding a logger that is already configured the same way)."""
    loggers = _as_list(trainer.get("logger"))
    unique: list = []
    for logger in loggers:
        if not any(logger == kept for kept in unique):
            unique.append(logger)
    if len(unique) < len(loggers):
        trainer.logger = unique
    return unique


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


def _drop_callbacks(trainer: Namespace, kind: type[Callback], reason: str) -> None:
    """Leave out the configured callbacks of `kind`, which would stop the run, saying why."""
    callbacks = _as_list(trainer.get("callbacks"))
    kept = [
        c
        for c in callbacks
        if not issubclass(import_class(c.class_path, "trainer.callbacks"), kind)
    ]
    if len(kept) < len(callbacks):
        rank_zero_info(f"{reason}: {kind.__name__} is left out")
        trainer.callbacks = kept


def place_trainer_outputs(trainer: Namespace, run: RunDirectory) -> None:
    """Point the trainer's root, loggers, checkpoint callbacks and profiler at `run`."""
    trainer.default_root_dir = str(run.path)
    if trainer.get("logger") in (None, True):  # Lightning's default logger, placed like ours
        trainer.logger = [Namespace(class_path=DEFAULT_LOGGER, init_args=Namespace())]
    for logger in _as_list(trainer.get("logger")):
        place_logger(logger, run)
    loggers = _dedupe_loggers(trainer)
    _check_distinct_folders(loggers)
    if not loggers:
        _drop_callbacks(trainer, LearningRateMonitor, "No logger is configured")
    if trainer.get("limit_val_batches") == 0:
        _drop_callbacks(trainer, EarlyStopping, "Validation is off (limit_val_batches=0)")
    profiler = trainer.get("profiler")
    if isinstance(profiler, Namespace) and profiler.get("init_args") is not None:
        if profiler.init_args.get("dirpath") is None:  # its report goes into the run
            profiler.init_args.dirpath = str(run.path)
    for callback in _as_list(trainer.get("callbacks")):
        cls = import_class(callback.class_path, "trainer.callbacks")
        if not issubclass(cls, ModelCheckpoint):
            continue
        if callback.init_args.get("dirpath") is None:
            callback.init_args.dirpath = str(run.checkpoints)
        if trainer.get("fast_dev_run"):
            # Lightning skips checkpoints in fast_dev_run, except `last.ckpt` at train end.
            callback.init_args.save_last = False

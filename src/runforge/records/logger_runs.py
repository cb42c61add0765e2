"""`<run>/logger_runs.json`: the ids of logger runs that live outside the run directory.

W&B and MLflow keep their runs in a service or central store; recording their ids in the
run directory lets a later command in the same run (resume, test) continue those runs.
"""

import json
from collections.abc import Iterable
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import Logger, MLFlowLogger, WandbLogger
from lightning.pytorch.utilities import rank_zero_only

from runforge.runs.directory import RunError, run_dir

#: The file in the run directory that maps a logger kind to the id of its run.
LOGGER_RUNS = "logger_runs.json"


def read_logger_runs(run_dir: str | Path) -> dict[str, str]:
    """The logger run ids recorded in a run directory (empty when none were recorded)."""
    path = Path(run_dir, LOGGER_RUNS)
    if not path.is_file():
        return {}
    try:
        return dict(json.loads(path.read_text()))
    except (ValueError, TypeError) as error:
        raise RunError(f"{path} is not valid JSON ({error}); fix or delete it") from error


#: Loggers whose run lives outside the run directory, with the key their run id is
#: recorded under in `logger_runs.json` (the id is the logger's `version`).
LOGGER_RUN_KEYS: list[tuple[type, str]] = [(WandbLogger, "wandb"), (MLFlowLogger, "mlflow")]


def logger_run_key(logger: Logger) -> str | None:
    """The key under which this logger's run id is recorded, or None if it needs none."""
    return next((key for base, key in LOGGER_RUN_KEYS if isinstance(logger, base)), None)


def record_logger_runs(loggers: Iterable[Logger], run_dir: str | Path) -> dict[str, str]:
    """Record the run ids of loggers with a central store in `<run_dir>/logger_runs.json`."""
    recorded = read_logger_runs(run_dir)
    updated = dict(recorded)
    for logger in loggers:
        key = logger_run_key(logger)
        version = logger.version if key else None
        if key and version is not None:
            updated[key] = str(version)
    if updated != recorded:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        Path(run_dir, LOGGER_RUNS).write_text(json.dumps(updated, indent=2) + "\n")
    return updated


class RecordLoggerRuns(Callback):
    """Write `<run>/logger_runs.json` so that resuming the run continues the same logger runs.

    Loggers whose runs live in a service or central store (W&B, MLflow) get their run id
    recorded; the CLI reads it back when a later command works in the same run directory.
    Nothing is written in a `fast_dev_run`.
    """

    @rank_zero_only
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Lightning has started the loggers' runs by now; record their ids."""
        if trainer.loggers and not trainer.fast_dev_run:
            record_logger_runs(trainer.loggers, run_dir(trainer))

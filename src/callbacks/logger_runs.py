"""Record the run ids of W&B, MLflow and similar loggers in the run directory."""

from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_only

from runs.logger_runs import record_logger_runs


class RecordLoggerRuns(Callback):
    """Write `logger_runs.json` so that resuming the run continues the same logger runs.

    Loggers whose runs live in a service or central store (W&B, MLflow) get their run id
    recorded; the CLI reads it back when a later command works in the same run directory.

    Args:
        run_dir: The run directory.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)

    @rank_zero_only
    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Lightning has started the loggers' runs by now; record their ids."""
        if trainer.loggers and not trainer.fast_dev_run:
            record_logger_runs(trainer.loggers, self.run_dir)

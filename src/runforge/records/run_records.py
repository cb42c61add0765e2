"""`RunRecords`: every record a run keeps in its directory, written by one callback."""

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.trainer.states import TrainerFn

from runforge.records.logger_runs import RecordLoggerRuns
from runforge.records.provenance import Provenance

if TYPE_CHECKING:  # imported where first used: a fit needs neither
    from runforge.records.metrics_writer import MetricsWriter
    from runforge.records.prediction_writer import PredictionWriter


class RunRecords(BasePredictionWriter):
    """The run's records, each written into the run directory (none in a `fast_dev_run`).

    - `provenance.json`, one entry a fit: command, git, versions, how the fit ended
      (`runforge.records.Provenance`);
    - `logger_runs.json`: the W&B/MLflow run ids, so a resume continues the same logger runs
      (`runforge.records.RecordLoggerRuns`);
    - `<stage>_metrics.json` after `validate` and `test` (`runforge.records.MetricsWriter`);
    - `predictions.csv` after `predict` (`runforge.records.PredictionWriter`).

    One callback rather than four: Lightning calls every hook of every callback at every
    step, whether the callback uses it or not.

    Args:
        command: The command line to record; default: the one the CLI was given.
    """

    def __init__(self, command: list[str] | None = None) -> None:
        super().__init__(write_interval="epoch")
        self.provenance = Provenance(command=command)
        self.logger_runs = RecordLoggerRuns()

    @cached_property
    def metrics(self) -> "MetricsWriter":
        """The part that writes `<stage>_metrics.json` (made at the first validate or test)."""
        from runforge.records.metrics_writer import MetricsWriter

        return MetricsWriter()

    @cached_property
    def predictions(self) -> "PredictionWriter":
        """The part that writes `predictions.csv` (made at the first predict)."""
        from runforge.records.prediction_writer import PredictionWriter

        return PredictionWriter()

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Read or record the loggers' run ids."""
        self.logger_runs.setup(trainer, pl_module, stage)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Append this fit's provenance entry."""
        self.provenance.on_fit_start(trainer, pl_module)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Mark the fit finished."""
        self.provenance.on_fit_end(trainer, pl_module)

    def on_exception(
        self, trainer: Trainer, pl_module: LightningModule, exception: BaseException
    ) -> None:
        """Mark the fit stopped (by a signal) or failed."""
        self.provenance.on_exception(trainer, pl_module, exception)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Write `validate_metrics.json` (after `validate`, not a fit's validation)."""
        if trainer.state.fn == TrainerFn.VALIDATING:
            self.metrics.on_validation_end(trainer, pl_module)

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Write `test_metrics.json`."""
        self.metrics.on_test_end(trainer, pl_module)

    def write_on_epoch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        predictions: Sequence[Any],
        batch_indices: Sequence[Any],
    ) -> None:
        """Write `predictions.csv`."""
        self.predictions.write_on_epoch_end(trainer, pl_module, predictions, batch_indices)

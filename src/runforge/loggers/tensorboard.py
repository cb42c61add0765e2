"""A TensorBoard logger whose HPARAMS tab shows the hyperparameters without a dummy metric."""

from argparse import Namespace
from typing import Any

from lightning.pytorch.loggers import TensorBoardLogger as LightningTensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

from runforge.compat import event_file_writer, flat_hyperparameters


class TensorBoardLogger(LightningTensorBoardLogger):
    """Lightning's `TensorBoardLogger` that records hyperparameters even without `hp_metric`.

    Lightning writes hyperparameters into the event file only together with a metric (the
    placeholder `hp_metric`). This logger also writes them with `default_hp_metric: false`,
    every value logged so far in one record, and TensorBoard's HPARAMS tab then offers the
    run's scalars (`val/acc`, ...) as metrics. `hparams.yaml` is written as before.
    The arguments are Lightning's; the CLI places the files in `<run>/tensorboard/`.
    """

    @rank_zero_only
    def log_hyperparams(
        self,
        params: dict[str, Any] | Namespace,
        metrics: dict[str, Any] | None = None,
        step: int | None = None,
    ) -> None:
        """Record hyperparameters (in `hparams.yaml` and the event file)."""
        super().log_hyperparams(params, metrics=metrics, step=step)
        if metrics is not None or self._default_hp_metric:
            return  # Lightning wrote the record with its metric
        from torch.utils.tensorboard.summary import hparams

        everything = flat_hyperparameters(self)
        _, session_start, _ = hparams(everything, {})
        event_file_writer(self.experiment).add_summary(session_start, step)

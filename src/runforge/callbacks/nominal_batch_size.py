"""Train as if with a nominal batch size: gradient accumulation and weight decay follow from it."""

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info

from runforge.errors import ConfigError


class NominalBatchSize(Callback):
    """Accumulate gradients up to about `nominal_batch_size` samples per optimizer step.

    At the start of fit, with the data module's `batch_size` and the number of processes
    (`world_size`), sets `trainer.accumulate_grad_batches` to
    `max(round(nominal_batch_size / (batch_size * world_size)), 1)` and scales the weight
    decay of the task's `decay` parameter group by
    `batch_size * world_size * accumulate / nominal_batch_size` (the effective batch over
    the nominal one). Lightning does the accumulation and divides the loss accordingly;
    `trainer.estimated_stepping_batches`, and so the learning-rate schedule, follows.
    Leave `trainer.accumulate_grad_batches` at 1 when you use this callback.

    Args:
        nominal_batch_size: The batch size the recipe's hyperparameters are meant for.
    """

    def __init__(self, nominal_batch_size: int = 64) -> None:
        if nominal_batch_size < 1:
            raise ConfigError(f"nominal_batch_size={nominal_batch_size} must be >= 1")
        self.nominal_batch_size = nominal_batch_size
        self.accumulate: int | None = None
        self.weight_decay_scale: float | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Set the accumulation and the task's weight-decay scale before optimizers are built."""
        if stage != "fit":
            return
        if trainer.accumulate_grad_batches not in (1, self.accumulate):
            raise ConfigError(
                f"trainer.accumulate_grad_batches={trainer.accumulate_grad_batches} conflicts "
                "with NominalBatchSize, which sets it; leave it at 1 or remove the callback"
            )
        batch_size = getattr(trainer.datamodule, "batch_size", None)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(
                "NominalBatchSize needs a data module with an integer `batch_size` attribute"
            )
        if not hasattr(pl_module, "weight_decay_scale"):
            raise ConfigError(
                "NominalBatchSize needs a task with `weight_decay_scale` "
                f"(runforge.tasks.OptimizedTask); "
                f"{type(pl_module).__name__} has none"
            )
        per_step = batch_size * trainer.world_size
        self.accumulate = max(round(self.nominal_batch_size / per_step), 1)
        self.weight_decay_scale = per_step * self.accumulate / self.nominal_batch_size
        trainer.accumulate_grad_batches = self.accumulate
        pl_module.weight_decay_scale = self.weight_decay_scale
        rank_zero_info(
            f"NominalBatchSize: nominal batch {self.nominal_batch_size}, batch_size {batch_size} x "
            f"{trainer.world_size} process(es) x accumulate_grad_batches {self.accumulate} = "
            f"{per_step * self.accumulate} samples per optimizer step; weight decay x "
            f"{self.weight_decay_scale:g}"
        )

"""Optimizer and learning-rate scheduler wiring shared by every task."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.utilities import rank_zero_warn

from optim.param_groups import NO_DECAY, NoWeightDecay, parameter_groups
from optim.schedules import PlannedLR, RunSchedule
from utils.errors import ConfigError

#: When the scheduler steps: after every epoch or after every optimizer step.
Interval = Literal["epoch", "step"]

_SCALARS = (str, int, float, bool, type(None))


@contextmanager
def _names_the_argument(key: str) -> Iterator[None]:
    """Turn a torch class rejecting a value (e.g. `lr=-1`) into a ConfigError naming `key`."""
    try:
        yield
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{key}: {error}") from error


def _plain(value: Any) -> bool:
    """Whether torch's `weights_only` loading can read `value` (scalars in dicts/lists/tuples)."""
    if type(value) is dict:
        return all(isinstance(k, _SCALARS) and _plain(v) for k, v in value.items())
    if type(value) in (list, tuple):
        return all(_plain(v) for v in value)
    return type(value) in _SCALARS


class OptimizedTask(LightningModule):
    """A LightningModule that builds its optimizer and scheduler from injected callables.

    Args:
        optimizer: Builds the optimizer from the parameters, e.g. `torch.optim.AdamW` with
            its arguments in YAML (`class_path` + `init_args`).
        lr_scheduler: Builds a scheduler from the optimizer; `null` for a constant rate. A
            torch scheduler (`torch.optim.lr_scheduler.CosineAnnealingLR`, ...), or a
            whole-run schedule such as `optim.WarmupSchedule`, which gets the run's length
            from the trainer and always steps after every optimizer step.
        lr_scheduler_interval: Step a torch scheduler every `epoch` or every optimizer
            `step` (whole-run schedules always step per `step`).
        lr_scheduler_monitor: Metric that `ReduceLROnPlateau` watches.
        no_weight_decay: Which parameters get no weight decay (biases, normalisation
            layers, embeddings by default); `null` to decay all parameters alike.
    """

    #: Multiplies the optimizer's weight decay; set by the `NominalBatchSize` callback.
    weight_decay_scale: float = 1.0

    def __init__(
        self,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        lr_scheduler: LRSchedulerCallable | RunSchedule | None = None,
        lr_scheduler_interval: Interval = "epoch",
        lr_scheduler_monitor: str = "val/loss",
        no_weight_decay: NoWeightDecay | None = NoWeightDecay(),  # noqa: B008
    ) -> None:
        super().__init__()
        self.optimizer_factory = optimizer
        self.lr_scheduler_factory = lr_scheduler
        self.lr_scheduler_interval = lr_scheduler_interval
        self.lr_scheduler_monitor = lr_scheduler_monitor
        self.no_weight_decay = no_weight_decay

    def configure_optimizers(self) -> Any:
        """Build the optimizer over the trainable parameters, and the scheduler if one is set."""
        groups = parameter_groups(self, self.no_weight_decay)
        with _names_the_argument("model.optimizer"):
            optimizer = self.optimizer_factory(groups)
        for group in optimizer.param_groups:
            if group.get("name") != NO_DECAY:
                group["weight_decay"] = group.get("weight_decay", 0.0) * self.weight_decay_scale
        if self.lr_scheduler_factory is None:
            return optimizer
        if isinstance(self.lr_scheduler_factory, RunSchedule):
            total_steps = self.trainer.estimated_stepping_batches
            scheduler = self.lr_scheduler_factory(optimizer, total_steps)
            interval = self.lr_scheduler_factory.interval
            self._planned_total_steps = getattr(scheduler, "total_steps", None)
        else:
            with _names_the_argument("model.lr_scheduler"):
                scheduler = self.lr_scheduler_factory(optimizer)
            interval = self.lr_scheduler_interval
        return {
            "optimizer": optimizer,
            "lr_scheduler": {
                "scheduler": scheduler,
                "interval": interval,
                "monitor": self.lr_scheduler_monitor,
            },
        }

    def on_train_start(self) -> None:
        """Warn when a resumed schedule was planned for a different run length than this run's."""
        for config in self.trainer.lr_scheduler_configs:
            scheduler = config.scheduler
            fresh = getattr(self, "_planned_total_steps", None)
            if isinstance(scheduler, PlannedLR) and fresh and scheduler.total_steps != fresh:
                rank_zero_warn(
                    f"The learning-rate schedule restored from the checkpoint was planned for "
                    f"{scheduler.total_steps} optimizer steps, this run has {fresh}; it follows "
                    "the checkpoint's plan (and holds its final rate after it). Give the "
                    "schedule's total_steps to fix a run's length when you plan to extend it."
                )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep only the hyperparameters that torch's safe `weights_only` loading can read.

        A task built by the CLI records its arguments as class paths and plain values, so
        `load_from_checkpoint(path)` rebuilds it whole. A task built in Python holds objects
        (the network, optimizer callables); they are left out of the checkpoint, so give
        them again: `ImageClassifier.load_from_checkpoint(path, net=SimpleNet(...))`.
        """
        hparams = checkpoint.get("hyper_parameters")
        if hparams:
            checkpoint["hyper_parameters"] = {k: v for k, v in hparams.items() if _plain(v)}

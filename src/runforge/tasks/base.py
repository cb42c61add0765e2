"""Optimizer and learning-rate scheduler wiring shared by every task."""

from typing import Any, Literal

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.utilities import rank_zero_warn

from runforge.errors import names_the_key
from runforge.optim.param_groups import NO_DECAY, NoWeightDecay, parameter_groups
from runforge.optim.resumed_settings import group_settings, restore_settings
from runforge.optim.schedules import PlannedLR, RunSchedule

#: When the scheduler steps: after every epoch or after every optimizer step.
Interval = Literal["epoch", "step"]

_SCALARS = (str, int, float, bool, type(None))
#: Optimizer defaults that choose an implementation, not a hyperparameter.
_IMPLEMENTATION = {"foreach", "fused", "capturable", "differentiable"}


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
            whole-run schedule such as `runforge.optim.WarmupSchedule`, which gets the run's length
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
        with names_the_key("model.optimizer"):
            optimizer = self.optimizer_factory(groups)
        for group in optimizer.param_groups:
            if group.get("name") != NO_DECAY:
                group["weight_decay"] = group.get("weight_decay", 0.0) * self.weight_decay_scale
        self._configured_settings = group_settings(optimizer)  # a resume restores the checkpoint's
        if self.lr_scheduler_factory is None:
            return optimizer
        if isinstance(self.lr_scheduler_factory, RunSchedule):
            total_steps = self.trainer.estimated_stepping_batches
            scheduler = self.lr_scheduler_factory(optimizer, total_steps)
            interval = self.lr_scheduler_factory.interval
            self._planned_total_steps = getattr(scheduler, "total_steps", None)
        else:
            with names_the_key("model.lr_scheduler"):
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

    def optimization_summary(self) -> dict[str, Any]:
        """The optimizer and scheduler as they run, flat, for the loggers' hyperparameters.

        Read from the trainer's optimizers and scheduler configs once they are built:
        `optimizer/class`, `optimizer/lr` (the peak, before any schedule), `optimizer/
        weight_decay` (of the decayed group), `optimizer/betas`, ...; `lr_scheduler/class`
        (None without a scheduler), its arguments, `lr_scheduler/interval` (when it really
        steps: `epoch` or `step`), `lr_scheduler/frequency` and `lr_scheduler/monitor`.
        """
        schedulers = {id(c.scheduler.optimizer): c for c in self.trainer.lr_scheduler_configs}
        out: dict[str, Any] = {}
        for index, optimizer in enumerate(self.trainer.optimizers):
            suffix = f"_{index}" if index else ""
            groups = [g for g in optimizer.param_groups if g.get("name") != NO_DECAY]
            group = {**optimizer.defaults, **(groups or optimizer.param_groups)[0]}
            group["lr"] = group.get("initial_lr", group["lr"])
            out[f"optimizer{suffix}/class"] = type(optimizer).__name__
            for key in optimizer.defaults:
                value = list(group[key]) if isinstance(group[key], tuple) else group[key]
                if key not in _IMPLEMENTATION and value is not None and _plain(value):
                    out[f"optimizer{suffix}/{key}"] = value
            out.update(
                self._scheduler_summary(f"lr_scheduler{suffix}", schedulers.get(id(optimizer)))
            )
        return out

    def _scheduler_summary(self, prefix: str, config: Any) -> dict[str, Any]:
        """Class, arguments, interval, frequency and monitor of one scheduler config."""
        if config is None:
            return {f"{prefix}/class": None}
        scheduler = config.scheduler
        if isinstance(self.lr_scheduler_factory, RunSchedule):  # its arguments, as planned
            name, args = type(self.lr_scheduler_factory).__name__, vars(self.lr_scheduler_factory)
            args = {**args, "total_steps": getattr(scheduler, "total_steps", None)}
        else:
            name, args = type(scheduler).__name__, scheduler.state_dict()
        out = {f"{prefix}/class": name}
        for key, value in args.items():
            if (
                not key.startswith("_")
                and key not in ("last_epoch", "verbose")
                and value is not None
            ):
                if isinstance(value, _SCALARS):
                    out[f"{prefix}/{key}"] = value
        out.update({f"{prefix}/interval": config.interval, f"{prefix}/frequency": config.frequency})
        if config.reduce_on_plateau:
            out[f"{prefix}/monitor"] = config.monitor
        return out

    def on_train_start(self) -> None:
        """On a resume, put the configured optimizer settings back; check the schedule's length.

        Restoring a checkpoint replaces the optimizer's settings (lr, weight decay, ...) with
        the checkpoint's; the config wins (`runforge.optim.resumed_settings`). A warning says
        when the restored schedule was planned for a different run length than this run's.
        """
        configs = self.trainer.lr_scheduler_configs
        configured = getattr(self, "_configured_settings", None)  # set by configure_optimizers
        if configured and self.trainer.optimizers:
            optimizer = self.trainer.optimizers[0]
            schedulers = (c.scheduler for c in configs if c.scheduler.optimizer is optimizer)
            restore_settings(optimizer, configured, schedulers)
        for config in configs:
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

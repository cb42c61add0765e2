"""A diverged training step never reaches the weights or a checkpoint.

Before each optimizer step the training loss and the gradients are checked (one
host-device sync per step, shared by both). A step with a NaN or infinite value stops the
fit with one line naming the step, before the optimizer applies it, so the weights, and
every checkpoint written so far, stay finite; or, with `skip_batches`, the step is skipped
and counted. Before the checkpoints of each epoch the weights and buffers (normalisation
statistics) are checked too.
"""

import sys

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor
from torch.optim import Optimizer

from runforge.errors import RunStopped


class NonFiniteLoss(RunStopped):
    """The training loss or gradients became NaN or infinite."""


class StopOnNonFinite(Callback):
    """Stop the fit at the first optimizer step whose loss or gradients are not finite.

    With mixed precision (`16-mixed`) the gradient scaler skips steps with infinite
    gradients itself, so only the loss is checked there.

    Args:
        skip_batches: Skip such steps instead of stopping (the optimizer leaves the weights
            as they were); how many were skipped is logged as `train/skipped_steps` and
            reported at the end of the fit.
    """

    def __init__(self, skip_batches: bool = False) -> None:
        self.skip_batches = skip_batches
        self.skipped = 0
        self._losses: list[Tensor] = []

    def on_before_backward(
        self, trainer: Trainer, pl_module: LightningModule, loss: Tensor
    ) -> None:
        """Keep the loss of each (accumulated) batch for the check before the step."""
        self._losses.append(loss.detach().float().reshape(1))

    def on_before_optimizer_step(
        self, trainer: Trainer, pl_module: LightningModule, optimizer: Optimizer
    ) -> None:
        """Check the loss and gradients; stop, or skip the step, when one is not finite."""
        values, self._losses = self._losses, []
        scaled = getattr(trainer.precision_plugin, "scaler", None) is not None
        grads = [p.grad for group in optimizer.param_groups for p in group["params"]]
        grads = [g for g in grads if g is not None]
        if grads and not scaled:
            values.append(
                torch.nn.utils.get_total_norm(grads).float().reshape(1).to(grads[0].device)
            )
        if not values:
            return
        device = values[0].device
        finite = bool(torch.cat([v.to(device) for v in values]).isfinite().all())
        if trainer.strategy.reduce_boolean_decision(finite, all=True):
            return
        if not self.skip_batches:
            self._stop(trainer, "the training loss or gradients are not finite")
        optimizer.zero_grad(set_to_none=True)  # the optimizer skips parameters without grad
        self.skipped += 1
        pl_module.log("train/skipped_steps", float(self.skipped), on_step=True, on_epoch=False)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Before the epoch's checkpoints: stop if a weight or buffer is not finite."""
        self._check_weights(trainer, pl_module)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Before checkpoints written after validation: the same check."""
        if not trainer.sanity_checking:
            self._check_weights(trainer, pl_module)

    def _check_weights(self, trainer: Trainer, pl_module: LightningModule) -> None:
        tensors = [
            t for t in (*pl_module.parameters(), *pl_module.buffers()) if t.is_floating_point()
        ]
        finite = bool(torch.stack([t.detach().isfinite().all() for t in tensors]).all())
        if not trainer.strategy.reduce_boolean_decision(finite, all=True):
            self._stop(trainer, "the weights (parameters or buffers) are not finite")

    def _stop(self, trainer: Trainer, what: str) -> None:
        where = f"step {trainer.global_step} (epoch {trainer.current_epoch})"
        message = (
            f"error: {what} (NaN/inf) at {where}: the fit stopped; the checkpoints written "
            "before hold finite weights. Lower the learning rate, clip gradients "
            "(--trainer.gradient_clip_val), or skip steps with a non-finite loss "
            "(StopOnNonFinite skip_batches: true)"
        )
        if trainer.is_global_zero:
            print(message, file=sys.stderr, flush=True)
        raise NonFiniteLoss(message)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Say how many steps were skipped."""
        if self.skipped:
            rank_zero_info(
                f"StopOnNonFinite: skipped {self.skipped} step(s) with a non-finite loss"
            )

"""An example callback of your own: the gradients' norm, logged as `train/grad_norm`."""

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import grad_norm
from torch.optim import Optimizer


class GradNorm(Callback):
    """Log the 2-norm of all gradients (before clipping) as `train/grad_norm`.

    Logged on the trainer's logging steps only (`log_every_n_steps`), as computing it reads
    every gradient. Add it to a fit with `--trainer.callbacks+=callbacks.GradNorm`.
    """

    def on_before_optimizer_step(
        self, trainer: Trainer, pl_module: LightningModule, optimizer: Optimizer
    ) -> None:
        """Compute and log the norm on a logging step."""
        if (trainer.global_step + 1) % trainer.log_every_n_steps == 0:
            norms = grad_norm(pl_module, norm_type=2)
            pl_module.log("train/grad_norm", norms["grad_2.0_norm_total"], on_step=True)

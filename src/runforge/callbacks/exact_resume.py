"""What a resumed fit needs, beyond the weights, to go on exactly as one never stopped.

With the training order fixed by (seed, epoch) (`runforge.data.resumable`), the generators
that a step draws from (dropout, random augmentation: torch on the CPU and CUDA, numpy,
Python's `random`) must be put back, the training loader must continue at its place in
the epoch, and the metrics summed over the epoch so far must carry on from their sums.
"""

import random
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torchmetrics import Metric

from runforge.compat import restore_loader_place


def rng_state() -> dict[str, Any]:
    """The state of torch's CPU and CUDA generators, numpy's and Python's, as plain values.

    Plain (tensors, ints, lists) so that torch's safe `weights_only` loading reads it.
    """
    numpy_state = np.random.get_state(legacy=False)
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        "numpy": {
            "key": numpy_state["state"]["key"].tolist(),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "python": [version, list(internal), gauss],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the generators from `rng_state()` (CUDA only where it was recorded)."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {
                "key": np.array(numpy_state["key"], dtype=np.uint32),
                "pos": numpy_state["pos"],
            },
            "has_gauss": numpy_state["has_gauss"],
            "gauss": numpy_state["gauss"],
        }
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def _updated_metrics(module: LightningModule) -> dict[str, Metric]:
    """The module's torchmetrics updated since their last reset, by name.

    Metrics whose states the module's own `state_dict` holds (`persistent`) are left out.
    """
    return {
        name: metric
        for name, metric in module.named_modules()
        if isinstance(metric, Metric)
        and metric.update_count
        and not set(metric.metric_state) <= set(metric.state_dict())
    }


def metric_states(module: LightningModule) -> dict[str, dict[str, Any]]:
    """The states (sums and counts) of the module's metrics updated in this epoch so far."""
    return {
        name: {key: _detached(value) for key, value in metric.metric_state.items()}
        for name, metric in _updated_metrics(module).items()
    }


def _detached(value: Any) -> Any:
    if isinstance(value, list):
        return [item.detach().cpu() for item in value]
    return value.detach().cpu()


def set_metric_states(module: LightningModule, states: dict[str, dict[str, Any]]) -> None:
    """Put saved metric states back (on each metric's device); their next `update` adds on."""
    metrics = dict(module.named_modules())
    for name, state in states.items():
        metric = metrics.get(name)
        if not isinstance(metric, Metric):
            continue
        device = metric.device
        for key, value in state.items():
            moved = [v.to(device) for v in value] if isinstance(value, list) else value.to(device)
            setattr(metric, key, moved)


def _mid_epoch(trainer: Trainer) -> bool:
    """Whether a checkpoint written now is written part-way through a training epoch.

    A validation in the middle of an epoch (`val_check_interval` < 1) counts as part-way.
    """
    progress = trainer.fit_loop.epoch_loop.batch_progress
    return (
        not trainer.sanity_checking
        and progress.current.completed > 0
        and not (progress.is_last_batch)
    )


class ExactResume(Callback):
    """Save in checkpoints what a resumed fit needs to go on exactly where it stopped.

    - The random generators' state (torch on the CPU and CUDA, numpy, Python's `random`),
      put back when training starts, after the model was built and the checkpoint loaded,
      so the next step draws what it would have drawn in a fit that was never stopped.
      Under DDP the state of rank 0 is saved and given to every rank (seeded alike, ranks
      draw alike).
    - The training loader's place in an epoch stopped part-way.
    - For a checkpoint written part-way through an epoch, the state of every torchmetrics
      metric updated in that epoch so far (the training loss and accuracy summed over its
      batches), so that the resumed epoch logs the value of the whole epoch, not of the
      batches after the resume.
    """

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None
        self._module: LightningModule | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Keep the module whose metrics a checkpoint holds."""
        self._module = pl_module

    def state_dict(self) -> dict[str, Any]:
        """The generators' state now, and the epoch's metric states part-way through one."""
        state: dict[str, Any] = rng_state()
        trainer = self._module.trainer if self._module is not None else None
        if trainer is not None and _mid_epoch(trainer):
            state["epoch_metrics"] = {
                "epoch": trainer.current_epoch,
                "states": metric_states(self._module),
            }
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Keep the checkpoint's state until training starts."""
        self._pending = state_dict

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Restore the generators, the loader's place and the epoch's metrics of a resume."""
        # Lightning gives the training loader its place in the epoch only where it builds
        # the loader after restoring the checkpoint; a schedule sized from the trainer
        # (`estimated_stepping_batches`) has it built before, and the epoch would restart.
        # The loader is iterated lazily, so restoring its place here is still in time.
        restore_loader_place(trainer)
        if self._pending is None:
            return
        pending, self._pending = self._pending, None
        set_rng_state(pending)
        epoch_metrics = pending.get("epoch_metrics")
        if epoch_metrics and epoch_metrics["epoch"] == trainer.current_epoch:
            set_metric_states(pl_module, epoch_metrics["states"])

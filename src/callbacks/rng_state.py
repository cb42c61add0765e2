"""Random generators' state in every checkpoint, restored when a fit resumes.

With the training order fixed by (seed, epoch) (`data_modules.resumable`), the generators
that a step draws from (dropout, random augmentation: torch on the CPU and CUDA, numpy,
Python's `random`) are what remains for a resumed fit to match one never stopped.
"""

import random
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer


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


class RestoreRNG(Callback):
    """Save the random generators' state in checkpoints; a resumed fit restores it.

    The state is put back when training starts, after the model was built and the
    checkpoint loaded, so the next step draws what it would have drawn in a fit that was
    never stopped; so is the training loader's place in an epoch stopped part-way. Under
    DDP the state of rank 0 is saved and given to every rank (seeded alike, ranks draw
    alike).
    """

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        """The generators' state now (written into the checkpoint)."""
        return rng_state()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Keep the checkpoint's state until training starts."""
        self._pending = state_dict

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Restore the checkpoint's generator state, if a fit resumes."""
        # Lightning gives the training loader its place in the epoch only where it builds
        # the loader after restoring the checkpoint; a schedule sized from the trainer
        # (`estimated_stepping_batches`) has it built before, and the epoch would restart.
        # The loader is iterated lazily, so restoring its place here is still in time.
        trainer.fit_loop._load_combined_loader_states()
        if self._pending is not None:
            set_rng_state(self._pending)
            self._pending = None

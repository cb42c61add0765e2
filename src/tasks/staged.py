"""A task whose training, validation and test steps are one `_shared_step` per stage."""

from torch import Tensor

from tasks.base import OptimizedTask


class StagedTask(OptimizedTask):
    """An `OptimizedTask` whose steps all call `_shared_step(batch, stage, dataloader_idx)`.

    Subclasses implement `_shared_step`: compute the loss, update and log the stage's
    metrics, and return the loss (which Lightning back-propagates in training).
    """

    def _shared_step(self, batch: tuple[Tensor, Tensor], stage: str, dataloader_idx: int = 0):
        raise NotImplementedError

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """One optimisation step; returns the loss for Lightning to back-propagate."""
        return self._shared_step(batch, "train")

    def validation_step(
        self, batch: tuple[Tensor, Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Accumulate the validation metrics of the batch's loader."""
        self._shared_step(batch, "val", dataloader_idx)

    def test_step(
        self, batch: tuple[Tensor, Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Accumulate the test metrics of the batch's loader."""
        self._shared_step(batch, "test", dataloader_idx)

"""`Task`: the base of a task, whose training, validation and test steps are one `shared_step`."""

from torch import Tensor

from runforge.tasks.base import OptimizedTask


class Task(OptimizedTask):
    """The base of a task: subclass it and implement `shared_step`.

    The optimizer and the learning-rate scheduler come from the config (see
    `OptimizedTask`); the training, validation and test steps all call
    `shared_step(batch, stage, dataloader_idx)`, which computes the loss, updates and logs
    the stage's metrics (`{stage}/loss`, `{stage}/acc`, ...) and returns the loss (which
    Lightning back-propagates in training). See `tasks/image_classifier.py` for one.
    """

    def shared_step(
        self, batch: tuple[Tensor, Tensor], stage: str, dataloader_idx: int = 0
    ) -> Tensor:
        """The loss of `batch` in `stage` (`train`, `val` or `test`), its metrics logged."""
        raise NotImplementedError(f"{type(self).__name__} must implement shared_step")

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """One optimisation step; returns the loss for Lightning to back-propagate."""
        return self.shared_step(batch, "train")

    def validation_step(
        self, batch: tuple[Tensor, Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Accumulate the validation metrics of the batch's loader."""
        self.shared_step(batch, "val", dataloader_idx)

    def test_step(
        self, batch: tuple[Tensor, Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Accumulate the test metrics of the batch's loader."""
        self.shared_step(batch, "test", dataloader_idx)

"""Worst-class accuracy: the recall of the class the model recognises least well."""

from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric


class WorstClassAccuracy(Metric):
    """The lowest per-class accuracy (recall): min over classes of correct / images of the class.

    Overall accuracy can hide a class the model never gets right; this shows it. Counts are
    summed over batches (and over processes in distributed runs), so the value is that of
    all images seen since the last reset. A class with no images yet is left out; with no
    images at all the value is NaN.

    Args:
        num_classes: Number of classes (passed by the task).
        **kwargs: The options of `torchmetrics.Metric` (e.g. `compute_on_cpu`).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    correct: Tensor
    total: Tensor

    def __init__(self, num_classes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_classes = num_classes
        zeros = torch.zeros(num_classes, dtype=torch.long)
        self.add_state("correct", default=zeros.clone(), dist_reduce_fx="sum")
        self.add_state("total", default=zeros.clone(), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Count the images and correct predictions per class.

        Args:
            preds: Class scores (N, num_classes) or predicted classes (N,).
            target: True classes (N,).
        """
        if preds.ndim == target.ndim + 1:
            preds = preds.argmax(dim=1)
        preds, target = preds.flatten(), target.flatten()
        # scatter_add_: bincount and boolean masks would make the host wait for the GPU.
        self.total.scatter_add_(0, target, torch.ones_like(target))
        self.correct.scatter_add_(0, target, (preds == target).long())

    def compute(self) -> Tensor:
        """The lowest accuracy among the classes seen."""
        seen = self.total > 0
        if not seen.any():
            return torch.tensor(float("nan"), device=self.total.device)
        return (self.correct[seen] / self.total[seen]).min()

"""A dataset of images and labels held as tensors, gathered a whole batch at a time."""

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset


class TensorBatchDataset(Dataset):
    """Images and labels held as tensors; a whole batch is gathered with one indexing call."""

    def __init__(self, images: Tensor, labels: Tensor) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        return self.images[index], self.labels[index]

    def __getitems__(self, indices: Sequence[int]) -> tuple[Tensor, Tensor]:
        index = torch.as_tensor(indices)
        return self.images[index], self.labels[index]


def keep_batch(batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """Collate function for `TensorBatchDataset`: the batch is already stacked."""
    return batch

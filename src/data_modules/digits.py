"""scikit-learn's handwritten digits: 1,797 8x8 images that ship with the package (no download)."""

from typing import Any

import torch
from torch import Tensor

from runforge.data.in_memory import InMemoryImageDataModule

#: The test part is drawn with this fixed seed, so it never changes with `split_seed`.
TEST_SPLIT_SEED = 20_240_101


class DigitsDataModule(InMemoryImageDataModule):
    """Handwritten digits 0-9 from scikit-learn, 8x8 grey images, held in memory.

    A fixed `test_fraction` of the images is the test set (the same images on every run,
    whatever `split_seed`); the rest is split into train/val by `split_seed`.

    Args:
        test_fraction: Part of all images that is the fixed test set, in (0, 1).
        val_fraction: Part of the rest held out for validation: 20 % (288 images), so that
            `val/acc` does not saturate at 1.0 within the first epochs.
        **kwargs: The loading and splitting arguments of `InMemoryImageDataModule`.
    """

    num_classes = 10
    input_shape = (1, 8, 8)
    max_value = 16.0
    mean = (0.305,)
    std = (0.376,)

    def __init__(
        self, test_fraction: float = 0.2, val_fraction: float = 0.2, **kwargs: Any
    ) -> None:
        super().__init__(val_fraction=val_fraction, **kwargs)
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
        self.test_fraction = test_fraction

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        """Read the digits from scikit-learn and cut off the fixed test part."""
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.as_tensor(digits.images, dtype=torch.uint8).unsqueeze(1)
        labels = torch.as_tensor(digits.target, dtype=torch.long)
        generator = torch.Generator().manual_seed(TEST_SPLIT_SEED)
        order = torch.randperm(len(labels), generator=generator)
        n_test = round(len(labels) * self.test_fraction)
        test, train = order[:n_test], order[n_test:]
        return {"train": (images[train], labels[train]), "test": (images[test], labels[test])}

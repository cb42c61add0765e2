"""Data modules for tests, importable by class path (`toy_data.RandomImages`): no download."""

import torch
from torch import Tensor

from runforge.data.in_memory import InMemoryImageDataModule


class _RandomRGB(InMemoryImageDataModule):
    """160 seeded random 3x32x32 images of 10 classes; the last 40 are the test part."""

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        """The images and labels, the same on every call."""
        generator = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (160, 3, 32, 32), generator=generator, dtype=torch.uint8)
        labels = torch.arange(160) % 10
        return {"train": (images[:120], labels[:120]), "test": (images[120:], labels[120:])}


class RandomImages(_RandomRGB):
    """CIFAR-shaped random images with both linked attributes."""

    num_classes = 10
    input_shape = (3, 32, 32)


class WithoutInputShape(_RandomRGB):
    """Random images whose data module does not say their shape."""

    num_classes = 10


class WithoutNumClasses(_RandomRGB):
    """Random images whose data module does not say how many classes there are."""

    input_shape = (3, 32, 32)

"""The engine's own test project: data modules and a network, by class path (`toy.Bars`).

The engine's tests train on these, never on the template's example (digits, SimpleNet),
so a researcher can replace or delete the example and the engine's suite still passes.
"""

import torch
from torch import Tensor, nn

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


class Bars(InMemoryImageDataModule):
    """1,800 seeded grey 8x8 images of 10 classes: a bright bar at one of 5 rows or 5 columns.

    The background is noisy and 5% of the labels are wrong, so accuracy climbs over a few
    epochs and stays below 1.0. The last 360 images are the fixed test part (the digits' sizes:
    18 training batches of 64 and 288 validation images with `val_fraction: 0.2`).

    Args:
        seed: Seed of the images and labels (another seed: another draw of the same classes).
        val_fraction: Part of the training images held out for validation (as in
            tests/configs/toy_data.yaml, so `Bars()` splits as the CLI's runs do).
        **kwargs: The loading and splitting arguments of `InMemoryImageDataModule`.
    """

    num_classes = 10
    input_shape = (1, 8, 8)
    mean = (0.296,)
    std = (0.225,)

    def __init__(self, seed: int = 0, val_fraction: float = 0.2, **kwargs) -> None:
        super().__init__(val_fraction=val_fraction, **kwargs)
        self.seed = seed

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        """Draw the images and labels (the same for the same seed)."""
        generator = torch.Generator().manual_seed(self.seed)
        labels = torch.arange(1800) % 10
        images = torch.randn(1800, 1, 8, 8, generator=generator) * 50 + 60
        places = torch.tensor([0, 2, 3, 5, 7])[labels % 5]
        rows, cols = labels < 5, labels >= 5
        images[rows, 0, places[rows], :] += 110
        images[cols, 0, :, places[cols]] += 110
        wrong = torch.rand(1800, generator=generator) < 0.05
        labels = torch.where(wrong, torch.randint(0, 10, (1800,), generator=generator), labels)
        images = images.clamp(0, 255).to(torch.uint8)
        return {"train": (images[:1440], labels[:1440]), "test": (images[1440:], labels[1440:])}


class TinyNet(nn.Module):
    """Two small conv blocks (conv, batch norm, ReLU, max-pool) and a linear head with dropout.

    It has state (batch norm) and randomness (dropout), as the networks the engine serves.

    Args:
        input_shape: Shape of one image, (channels, height, width) (linked from the data).
        num_classes: Number of output logits (linked from the data).
        channels: Output channels of the two conv blocks.
        dropout: Dropout probability before the linear layer.
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int] = (1, 8, 8),
        num_classes: int = 10,
        channels: tuple[int, int] = (8, 16),
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        in_channels, height, width = input_shape
        for out_channels in channels:
            blocks += [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)]
            blocks += [nn.BatchNorm2d(out_channels), nn.ReLU(), nn.MaxPool2d(2)]
            in_channels = out_channels
        self.features = nn.Sequential(*blocks)
        flat_size = in_channels * (height // 4) * (width // 4)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(flat_size, num_classes)
        )

    def forward(self, x: Tensor) -> Tensor:
        """Class logits of shape (batch, num_classes)."""
        return self.classifier(self.features(x))

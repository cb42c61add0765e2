"""A small LeNet-style convolutional network."""

from torch import Tensor, nn


class SimpleNet(nn.Module):
    """Two conv blocks (conv, batch norm, ReLU, 2x2 max-pool) and a two-layer classifier head.

    `input_shape` and `num_classes` are linked from the data module by the CLI; set them
    yourself only when you build the network in Python.

    Args:
        input_shape: Shape of one image, (channels, height, width).
        num_classes: Number of output logits.
        channels: Output channels of the two conv blocks.
        hidden_size: Width of the hidden layer of the classifier head.
        dropout: Dropout probability before each linear layer of the head.
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int] = (1, 28, 28),
        num_classes: int = 10,
        channels: tuple[int, int] = (32, 64),
        hidden_size: int = 128,
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        in_channels, height, width = input_shape
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(c1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(c2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        flat_size = c2 * (height // 4) * (width // 4)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(flat_size, hidden_size),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden_size, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Return class logits of shape (batch, num_classes)."""
        return self.classifier(self.features(x))

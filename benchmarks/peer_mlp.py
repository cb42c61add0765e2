"""lightning-hydra-template's MNIST network (SimpleDenseNet), for `benchmarks/memory.py`."""

from torch import Tensor, nn


class SimpleDenseNet(nn.Module):
    """784-64-128-64-10 with batch norm and ReLU, as in the peer template's MNIST recipe."""

    def __init__(
        self,
        hidden: tuple[int, ...] = (64, 128, 64),
        input_shape: tuple[int, ...] = (1, 28, 28),
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        sizes = [input_shape[0] * input_shape[1] * input_shape[2], *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for width_in, width_out in zip(sizes, sizes[1:], strict=False):
            layers += [nn.Linear(width_in, width_out), nn.BatchNorm1d(width_out), nn.ReLU()]
        self.model = nn.Sequential(*layers, nn.Linear(sizes[-1], num_classes))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits."""
        return self.model(x)

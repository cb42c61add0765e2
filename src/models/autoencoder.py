"""A small convolutional autoencoder: images in, images of the same shape out."""

import torch.nn.functional as F
from torch import Tensor, nn


def _block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class ConvAutoencoder(nn.Module):
    """Strided conv encoder, upsampling conv decoder, sigmoid output in [0, 1].

    Each encoder stage halves the height and width; the decoder doubles them back and the
    output is resized to the input's size when a side was odd (28 -> 14 -> 7 -> 14 -> 28).
    `input_shape` is linked from the data module by the CLI.

    Args:
        input_shape: Shape of one image, (channels, height, width).
        channels: Output channels of the encoder stages (the decoder mirrors them).
        latent_channels: Channels of the bottleneck (its size sets how much is kept).
    """

    def __init__(
        self,
        input_shape: tuple[int, int, int] = (1, 28, 28),
        channels: tuple[int, ...] = (32, 64),
        latent_channels: int = 16,
    ) -> None:
        super().__init__()
        in_channels = input_shape[0]
        widths = [in_channels, *channels]
        self.encoder = nn.Sequential(
            *(_block(a, b, stride=2) for a, b in zip(widths[:-1], widths[1:], strict=True)),
            nn.Conv2d(channels[-1], latent_channels, kernel_size=1),
        )
        decoder: list[nn.Module] = [_block(latent_channels, channels[-1])]
        # Mirror the encoder: 64 -> 32 -> 32 for channels (32, 64).
        for a, b in zip(channels[::-1], [*channels[-2::-1], channels[0]], strict=True):
            decoder += [nn.Upsample(scale_factor=2, mode="nearest"), _block(a, b)]
        decoder += [nn.Conv2d(channels[0], in_channels, kernel_size=3, padding=1), nn.Sigmoid()]
        self.decoder = nn.Sequential(*decoder)

    def forward(self, x: Tensor) -> Tensor:
        """The reconstruction of `x`, same shape, values in [0, 1]."""
        out = self.decoder(self.encoder(x))
        if out.shape[-2:] != x.shape[-2:]:
            out = F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return out

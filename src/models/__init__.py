"""Plain `torch.nn.Module` networks (no Lightning inside). YAML: `models.SimpleNet`."""

from models.autoencoder import ConvAutoencoder
from models.simplenet import SimpleNet

__all__ = ["ConvAutoencoder", "SimpleNet"]

"""Plain `torch.nn.Module` networks (no Lightning inside). YAML: `models.SimpleNet`."""

from models.simplenet import SimpleNet

__all__ = ["SimpleNet"]

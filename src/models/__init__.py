"""Your networks: plain `torch.nn.Module`s (no Lightning inside). YAML: `models.SimpleNet`."""

from runforge.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "ConvAutoencoder": ".autoencoder",
        "SimpleNet": ".simplenet",
    },
)

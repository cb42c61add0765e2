"""Checkpoints: written atomically, read safely; the config wins over their hyperparameters."""

from runforge.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "AtomicCheckpointIO": ".atomic",
        "ConfigOverCheckpoint": ".config_over_checkpoint",
    },
)

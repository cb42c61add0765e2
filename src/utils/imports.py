"""Import a class from its dotted path, as configs name them."""

from importlib import import_module

from utils.errors import ConfigError


def import_class(class_path: str, key: str) -> type:
    """The class at `class_path` (e.g. `torch.nn.LayerNorm`); a ConfigError naming `key` if none."""
    module, _, name = class_path.rpartition(".")
    try:
        cls = getattr(import_module(module), name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ConfigError(f"{key}: cannot import {class_path!r}") from error
    if not isinstance(cls, type):
        raise ConfigError(f"{key}: {class_path!r} is not a class")
    return cls

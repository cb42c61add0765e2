"""Lazy re-exports: a package names its public classes without importing their modules.

A run imports only what its config names: `runforge.callbacks.StopOnSignal` imports
`runforge.callbacks.stop_on_signal` when it is first looked up, and nothing else.
"""

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, names: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """`__getattr__`, `__dir__` and `__all__` for `package`, which exports `names`.

    Args:
        package: The package's `__name__`.
        names: Each exported name and the module (relative, e.g. `.curves`) it is defined in.
    """

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(names[name], package), name)
        setattr(sys.modules[package], name, value)  # looked up once
        return value

    def __dir__() -> list[str]:
        return sorted({*names, *vars(sys.modules[package])})

    return __getattr__, __dir__, sorted(names)

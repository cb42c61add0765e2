"""The command line: LightningCLI with the run directory, flags and checks of the template."""

from runforge.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "CLI": ".cli",
        "main": ".cli",
    },
)

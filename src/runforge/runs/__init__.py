"""Run directories: where each run lives, its lock, seed and where the trainer writes."""

from runforge.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "RunDirectory": ".directory",
        "RunError": ".directory",
        "run_dir": ".directory",
    },
)

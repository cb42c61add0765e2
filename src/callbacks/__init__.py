"""Your own callbacks. YAML: `--trainer.callbacks+=callbacks.GradNorm`.

The engine's callbacks are in `runforge.callbacks`; `configs/default.yaml` lists those a fit runs.
"""

from runforge.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {"GradNorm": ".grad_norm"})

"""Your `torchmetrics.Metric`s, for what torchmetrics lacks. YAML: `metrics.WorstClassAccuracy`."""

from runforge.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__, {"WorstClassAccuracy": ".worst_class_accuracy"}
)

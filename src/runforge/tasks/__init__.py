"""Task bases: subclass one to write a LightningModule that the template's callbacks understand."""

from runforge.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "OptimizedTask": ".base",
        "MetricCallable": ".stage_metrics",
        "StageMetrics": ".stage_metrics",
        "Task": ".task",
    },
)

"""Tasks: `ImageClassifier`, and the bases to subclass for a LightningModule of your own."""

from runforge.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "ImageClassifier": ".image_classifier",
        "OptimizedTask": ".base",
        "MetricCallable": ".stage_metrics",
        "StageMetrics": ".stage_metrics",
        "Task": ".task",
    },
)

"""Your LightningModules: loss, metrics, steps around a `net`. YAML: `tasks.ImageClassifier`."""

from runforge.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {"ImageClassifier": ".image_classifier", "ImageReconstructor": ".image_reconstructor"},
)

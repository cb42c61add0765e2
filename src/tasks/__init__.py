"""Your LightningModules: loss, metrics, steps around a `net`. YAML: `tasks.ImageReconstructor`.

A task subclasses `runforge.tasks.Task`. Classification needs no task of your own:
`runforge.tasks.ImageClassifier` trains any `net`.
"""

from runforge.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "ImageReconstructor": ".image_reconstructor",
    },
)

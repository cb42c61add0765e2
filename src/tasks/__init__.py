"""LightningModules: loss, metrics and steps around a plain `net`. YAML: `tasks.ImageClassifier`."""

from tasks.base import OptimizedTask
from tasks.image_classifier import ImageClassifier

__all__ = ["ImageClassifier", "OptimizedTask"]

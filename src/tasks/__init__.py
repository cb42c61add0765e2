"""LightningModules: loss, metrics and steps around a plain `net`. YAML: `tasks.ImageClassifier`."""

from tasks.base import OptimizedTask
from tasks.image_classifier import ImageClassifier
from tasks.image_reconstructor import ImageReconstructor
from tasks.staged import StagedTask

__all__ = ["ImageClassifier", "ImageReconstructor", "OptimizedTask", "StagedTask"]

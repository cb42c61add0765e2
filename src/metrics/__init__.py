"""`torchmetrics.Metric` subclasses for what torchmetrics lacks."""

from metrics.worst_class_accuracy import WorstClassAccuracy

__all__ = ["WorstClassAccuracy"]

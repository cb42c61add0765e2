"""Custom `torchmetrics.Metric` subclasses for your tasks go here (the template uses stock torchmetrics)."""

"""Your own `torchmetrics.Metric` subclasses go here (the template uses stock torchmetrics)."""

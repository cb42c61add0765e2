"""Drop-in logger variants that keep a run in one place when it is resumed.

YAML: `loggers.TensorBoardLogger`, `loggers.CSVLogger`, `loggers.MLFlowLogger`. The CLI swaps
Lightning's own TensorBoard, CSV and MLflow loggers for these, so configs naming Lightning's
classes get the same behaviour.
"""

from loggers.csv import CSVLogger
from loggers.mlflow import MLFlowLogger
from loggers.tensorboard import TensorBoardLogger

__all__ = ["CSVLogger", "MLFlowLogger", "TensorBoardLogger"]

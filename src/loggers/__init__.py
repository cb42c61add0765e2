"""Lightning loggers with fixes for runs that are resumed, named in the configs.

YAML: `loggers.TensorBoardLogger` (hyperparameters without a dummy `hp_metric`),
`loggers.CSVLogger` (appends on resume), `loggers.MLFlowLogger` (local store, no
environment in the config). Lightning's own loggers work too and are used as given.
"""

from loggers.csv import CSVLogger
from loggers.mlflow import MLFlowLogger
from loggers.tensorboard import TensorBoardLogger

__all__ = ["CSVLogger", "MLFlowLogger", "TensorBoardLogger"]

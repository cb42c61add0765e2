"""Lightning loggers with fixes for runs that are resumed, named in the configs.

YAML: `runforge.loggers.TensorBoardLogger` (hyperparameters without a dummy `hp_metric`),
`runforge.loggers.CSVLogger` (appends on resume), `runforge.loggers.MLFlowLogger` (local store,
no environment in the config). Lightning's own loggers work too and are used as given.
"""

from runforge.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "CSVLogger": ".csv",
        "MLFlowLogger": ".mlflow",
        "TensorBoardLogger": ".tensorboard",
    },
)

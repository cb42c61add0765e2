"""Run directories and run records: where each run's config, checkpoints and records live.

YAML: `runs.MetricsWriter`, `runs.PredictionWriter`, `runs.RecordLoggerRuns` and
`runs.Provenance` are listed in `configs/default.yaml`; `runs.SaveRunConfig` is the CLI's
`save_config_callback` and `runs.ConfigOverCheckpoint` a base of the CLI (the config wins over
a checkpoint's hyperparameters). Each finds the run directory with `runs.run_dir(trainer)`.
"""

from runs.atomic_checkpoint import AtomicCheckpointIO
from runs.checkpoint_config import ConfigOverCheckpoint
from runs.config import SaveRunConfig
from runs.directory import RunDirectory, RunError, run_dir
from runs.logger_runs import RecordLoggerRuns
from runs.metrics_writer import MetricsWriter
from runs.prediction_writer import PredictionWriter
from runs.provenance import Provenance

__all__ = [
    "AtomicCheckpointIO",
    "ConfigOverCheckpoint",
    "MetricsWriter",
    "PredictionWriter",
    "Provenance",
    "RecordLoggerRuns",
    "RunDirectory",
    "RunError",
    "SaveRunConfig",
    "run_dir",
]

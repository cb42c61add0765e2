"""Run-level features, one callback each. The CLI adds them; you can also use them in Python."""

from callbacks.curves import Curves
from callbacks.log_hyperparameters import LogHyperparameters
from callbacks.logger_runs import RecordLoggerRuns
from callbacks.lr_curve import LRCurve
from callbacks.metrics_writer import MetricsWriter
from callbacks.nominal_batch_size import NominalBatchSize
from callbacks.non_finite import StopOnNonFinite
from callbacks.onnx_export import ONNXExport
from callbacks.prediction_writer import PredictionWriter
from callbacks.rng_state import RestoreRNG
from callbacks.save_run_config import SaveRunConfig
from callbacks.slurm_requeue import SLURMRequeue
from callbacks.stop_on_signal import StopOnSignal
from callbacks.test_report import TestReport

__all__ = [
    "Curves",
    "LogHyperparameters",
    "LRCurve",
    "MetricsWriter",
    "NominalBatchSize",
    "ONNXExport",
    "PredictionWriter",
    "RecordLoggerRuns",
    "RestoreRNG",
    "SaveRunConfig",
    "SLURMRequeue",
    "StopOnNonFinite",
    "StopOnSignal",
    "TestReport",
]

"""Training features you opt into, one callback each (the run records live in `runs/`)."""

from callbacks.curves import Curves
from callbacks.exact_resume import ExactResume
from callbacks.lr_curve import LRCurve
from callbacks.nominal_batch_size import NominalBatchSize
from callbacks.non_finite import StopOnNonFinite
from callbacks.onnx_export import ONNXExport
from callbacks.progress import ProgressBar
from callbacks.slurm_requeue import SLURMRequeue
from callbacks.stop_on_signal import StopOnSignal
from callbacks.test_report import TestReport

__all__ = [
    "Curves",
    "ExactResume",
    "LRCurve",
    "NominalBatchSize",
    "ONNXExport",
    "ProgressBar",
    "SLURMRequeue",
    "StopOnNonFinite",
    "StopOnSignal",
    "TestReport",
]

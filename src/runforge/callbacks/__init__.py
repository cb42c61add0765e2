"""Training features you opt into, one callback each (the run records are in `runforge.records`).

YAML: `runforge.callbacks.StopOnSignal`, ...
"""

from runforge.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "Curves": ".curves",
        "ExactResume": ".exact_resume",
        "LRCurve": ".lr_curve",
        "NominalBatchSize": ".nominal_batch_size",
        "ONNXExport": ".onnx_export",
        "ProgressBar": ".progress",
        "SLURMRequeue": ".slurm_requeue",
        "StopOnNonFinite": ".non_finite",
        "StopOnSignal": ".stop_on_signal",
        "TestReport": ".test_report",
    },
)

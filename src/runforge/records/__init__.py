"""What a run keeps: its config, provenance, status, metrics, predictions and logger runs.

YAML: `runforge.records.MetricsWriter`, `runforge.records.PredictionWriter`,
`runforge.records.RecordLoggerRuns` and `runforge.records.Provenance` are listed in
`configs/default.yaml`; `runforge.records.SaveRunConfig` is the CLI's `save_config_callback`.
"""

from runforge.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "MetricsWriter": ".metrics_writer",
        "PredictionWriter": ".prediction_writer",
        "Provenance": ".provenance",
        "RecordLoggerRuns": ".logger_runs",
        "SaveRunConfig": ".config",
    },
)

"""What a run keeps: its config, provenance, status, metrics, predictions and logger runs.

YAML: `runforge.records.RunRecords` (in `configs/default.yaml`) writes them all, with its
parts `Provenance`, `RecordLoggerRuns`, `MetricsWriter` and `PredictionWriter`;
`runforge.records.SaveRunConfig` is the CLI's `save_config_callback`.
"""

from runforge.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "MetricsWriter": ".metrics_writer",
        "PredictionWriter": ".prediction_writer",
        "Provenance": ".provenance",
        "RecordLoggerRuns": ".logger_runs",
        "RunRecords": ".run_records",
        "SaveRunConfig": ".config",
    },
)

"""A CSV logger that appends to the run's `metrics.csv` instead of deleting it on resume."""

import csv
import os

from lightning.pytorch.core.saving import load_hparams_from_yaml
from lightning.pytorch.loggers import CSVLogger as LightningCSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment


class AppendingExperimentWriter(ExperimentWriter):
    """Lightning's CSV writer, but an existing `metrics.csv` and `hparams.yaml` are continued.

    Lightning's writer deletes `metrics.csv` when its folder is not empty; this one reads
    the existing header so that new rows are appended under the same columns (new columns
    rewrite the file once with a wider header, keeping every old row).
    """

    def __init__(self, log_dir: str) -> None:
        super().__init__(log_dir)
        self.hparams.update(self.resumed_hparams)

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.metrics_keys = list(next(csv.reader(file), []))
        hparams_file = os.path.join(self.log_dir, self.NAME_HPARAMS_FILE)
        self.resumed_hparams = (
            dict(load_hparams_from_yaml(hparams_file) or {})
            if self._fs.isfile(hparams_file)
            else {}
        )


class CSVLogger(LightningCSVLogger):
    """Lightning's `CSVLogger` that continues `metrics.csv` and `hparams.yaml` when resumed.

    The arguments are Lightning's; the CLI places the files in `<run>/csv/`.
    """

    @property
    @rank_zero_experiment
    def experiment(self) -> AppendingExperimentWriter:
        """The writer of `metrics.csv` and `hparams.yaml` (created on first use)."""
        if self._experiment is not None:
            return self._experiment
        self._fs.makedirs(self.root_dir, exist_ok=True)
        self._experiment = AppendingExperimentWriter(log_dir=self.log_dir)
        return self._experiment

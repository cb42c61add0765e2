"""An MLflow logger whose default store is a local SQLite database under the logs root."""

import os
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import MLFlowLogger as LightningMLFlowLogger

#: The local store's file and artifact folder, inside `save_dir` (the CLI sets the logs root).
DATABASE = "mlflow.db"
ARTIFACTS = "mlartifacts"
TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"


def local_tracking_uri(save_dir: str | os.PathLike) -> str:
    """The SQLite tracking URI of the local MLflow store in `save_dir`."""
    return f"sqlite:///{Path(save_dir).resolve() / DATABASE}"


class MLFlowLogger(LightningMLFlowLogger):
    """Lightning's `MLFlowLogger` with a local store by default and no environment in its config.

    Args:
        experiment_name: MLflow experiment; the CLI uses the run's `name` when left as is.
        tracking_uri: Tracking server or store. Not set: `$MLFLOW_TRACKING_URI` when that
            is defined (read at start, never written to the config), else a SQLite store
            `<save_dir>/mlflow.db` with artifacts in `<save_dir>/mlartifacts/`.
        save_dir: Folder of the local store; the CLI sets the logs root (`run.root`).
        artifact_location: Artifact folder of a newly created experiment.
        **kwargs: The other arguments of Lightning's `MLFlowLogger` (`run_name`, which the
            CLI sets to the run's `version`; `run_id`, which it sets on resume; `tags`,
            `log_model`, `prefix`, `synchronous`).
    """

    def __init__(
        self,
        experiment_name: str = "lightning_logs",
        tracking_uri: str | None = None,
        save_dir: str | None = "logs",
        artifact_location: str | None = None,
        **kwargs: Any,
    ) -> None:
        local = not tracking_uri and not os.environ.get(TRACKING_URI_ENV)
        if local:
            save_dir = save_dir or "."
            tracking_uri = local_tracking_uri(save_dir)
            if artifact_location is None:
                artifact_location = str(Path(save_dir).resolve() / ARTIFACTS / experiment_name)
        super().__init__(
            experiment_name=experiment_name,
            tracking_uri=tracking_uri or os.environ[TRACKING_URI_ENV],
            save_dir=save_dir,
            artifact_location=artifact_location,
            **kwargs,
        )

    @property
    def experiment(self) -> Any:
        """The MLflow client, the run started on first use (as Lightning's).

        `mlflow.set_tracking_uri`, which Lightning's logger calls here, exports the URI
        into the process environment; it is put back, so that the processes this one
        starts later (and the next run built in this process) choose their own store.
        """
        before = os.environ.get(TRACKING_URI_ENV)
        try:
            return super().experiment
        finally:
            if before is None:
                os.environ.pop(TRACKING_URI_ENV, None)
            else:
                os.environ[TRACKING_URI_ENV] = before

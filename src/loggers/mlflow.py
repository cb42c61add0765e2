"""An MLflow logger whose default store is a local SQLite database under the logs root."""

import os
from pathlib import Path
from typing import Any, Literal

from lightning.pytorch.loggers import MLFlowLogger as LightningMLFlowLogger

#: The local store's file and artifact folder, inside `save_dir` (the CLI sets the logs root).
DATABASE = "mlflow.db"
ARTIFACTS = "mlartifacts"


def local_tracking_uri(save_dir: str | os.PathLike) -> str:
    """The SQLite tracking URI of the local MLflow store in `save_dir`."""
    return f"sqlite:///{Path(save_dir).resolve() / DATABASE}"


class MLFlowLogger(LightningMLFlowLogger):
    """Lightning's `MLFlowLogger` with a local store by default and no environment in its config.

    Args:
        experiment_name: MLflow experiment; the CLI uses the run's `name` when left as is.
        run_name: MLflow run name; the CLI uses the run's `version` when not set.
        tracking_uri: Tracking server or store. Not set: `$MLFLOW_TRACKING_URI` when that
            is defined (read at start, never written to the config), else a SQLite store
            `<save_dir>/mlflow.db` with artifacts in `<save_dir>/mlartifacts/`.
        tags: Tags for a new MLflow run.
        save_dir: Folder of the local store; the CLI sets the logs root (`run.root`).
        log_model: Log checkpoints as artifacts: `True` at the end, `"all"` as they are saved.
        prefix: A string put at the beginning of metric keys.
        artifact_location: Artifact folder of a newly created experiment.
        run_id: Continue this MLflow run; the CLI sets it from the run directory on resume.
        synchronous: Log synchronously (`True`) or in the background (`False`).
    """

    def __init__(
        self,
        experiment_name: str = "lightning_logs",
        run_name: str | None = None,
        tracking_uri: str | None = None,
        tags: dict[str, Any] | None = None,
        save_dir: str | None = "logs",
        log_model: Literal[True, False, "all"] = False,
        prefix: str = "",
        artifact_location: str | None = None,
        run_id: str | None = None,
        synchronous: bool | None = None,
    ) -> None:
        local = not tracking_uri and not os.environ.get("MLFLOW_TRACKING_URI")
        if local:
            save_dir = save_dir or "."
            tracking_uri = local_tracking_uri(save_dir)
            if artifact_location is None:
                artifact_location = str(Path(save_dir).resolve() / ARTIFACTS / experiment_name)
        super().__init__(
            experiment_name=experiment_name,
            run_name=run_name,
            tracking_uri=tracking_uri or os.environ["MLFLOW_TRACKING_URI"],
            tags=tags,
            save_dir=save_dir,
            log_model=log_model,
            prefix=prefix,
            artifact_location=artifact_location,
            run_id=run_id,
            synchronous=synchronous,
        )

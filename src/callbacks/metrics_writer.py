"""Write the final metrics of `validate` / `test` as JSON into the run directory."""

import json
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_only


class MetricsWriter(Callback):
    """Save the final metrics as `<stage>_metrics.json` (key -> number) after validate/test.

    Args:
        run_dir: Folder to write into (the run directory).
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)

    @rank_zero_only
    def _write(self, trainer: Trainer, stage: str) -> None:
        metrics = {key: float(value) for key, value in sorted(trainer.callback_metrics.items())}
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / f"{stage}_metrics.json"
        path.write_text(json.dumps(metrics, indent=2) + "\n")

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """After a `validate` run (not the validation inside `fit`)."""
        if trainer.state.fn == TrainerFn.VALIDATING and not trainer.sanity_checking:
            self._write(trainer, "validate")

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """After a `test` run."""
        self._write(trainer, "test")

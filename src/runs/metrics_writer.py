"""Write the final metrics of `validate` / `test` as JSON into the run directory."""

import json

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only

from runs.directory import run_dir


class MetricsWriter(Callback):
    """Save the final metrics as `<run>/<stage>_metrics.json` (key -> number) after validate/test.

    Prints where it wrote. Nothing is written in a `fast_dev_run`.
    """

    @rank_zero_only
    def _write(self, trainer: Trainer, stage: str) -> None:
        if trainer.fast_dev_run:
            return
        metrics = {key: float(value) for key, value in sorted(trainer.callback_metrics.items())}
        folder = run_dir(trainer)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{stage}_metrics.json"
        path.write_text(json.dumps(metrics, indent=2) + "\n")
        rank_zero_info(f"Metrics: {path}")

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """After a `validate` run (not the validation inside `fit`)."""
        if trainer.state.fn == TrainerFn.VALIDATING and not trainer.sanity_checking:
            self._write(trainer, "validate")

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """After a `test` run."""
        self._write(trainer, "test")

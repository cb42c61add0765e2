"""Write the final metrics of `validate` / `test` as JSON into the run directory."""

import json
import math
import sys

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_info

from runforge.errors import RunStopped
from runforge.runs.directory import run_dir


class NonFiniteMetrics(RunStopped):
    """A validate or test run gave NaN or infinite metrics; nothing was written."""


class MetricsWriter(Callback):
    """Save the final metrics as `<run>/<stage>_metrics.json` (key -> number) after validate/test.

    Prints where it wrote. The file is strict JSON: metrics that are NaN or infinite stop the
    command with one error line (exit 1) and no file. Nothing is written in a `fast_dev_run`.
    """

    def _write(self, trainer: Trainer, stage: str) -> None:
        if trainer.fast_dev_run:
            return
        metrics = {key: float(value) for key, value in sorted(trainer.callback_metrics.items())}
        path = run_dir(trainer) / f"{stage}_metrics.json"
        broken = [key for key, value in metrics.items() if not math.isfinite(value)]
        if broken:  # on every rank: each stops
            weights = trainer.ckpt_path or "the model's weights"
            message = (
                f"error: {stage}: {', '.join(broken)} {'is' if len(broken) == 1 else 'are'} not "
                f"finite (NaN/inf) with {weights}; {path} was not written"
            )
            if trainer.is_global_zero:
                print(message, file=sys.stderr, flush=True)
            raise NonFiniteMetrics(message)
        if trainer.is_global_zero:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n")
            rank_zero_info(f"Metrics: {path}")

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """After a `validate` run (not the validation inside `fit`)."""
        if trainer.state.fn == TrainerFn.VALIDATING and not trainer.sanity_checking:
            self._write(trainer, "validate")

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """After a `test` run."""
        self._write(trainer, "test")

"""`curves.png`: the training and validation metrics per epoch, drawn at the end of fit."""

import csv
import math
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_only

from runforge.callbacks.figures import new_figure, publish_figure
from runforge.runs.directory import run_dir

STAGES = ("train", "val")


def _best_epoch(history: dict[int, dict[str, float]], monitor: str, mode: str) -> int | None:
    """The first epoch with the best value of `monitor` (as `ModelCheckpoint` keeps it)."""
    scored = [(e, values[monitor]) for e, values in sorted(history.items()) if monitor in values]
    if not scored:
        return None
    return (max if mode == "max" else min)(scored, key=lambda pair: pair[1])[0]


class Curves(Callback):
    """At the end of fit, draw each epoch-level metric of training and validation per epoch.

    One panel per metric name (`loss`, `acc`, `psnr`, ...), with the `train/` and `val/`
    values (and extra validation sets, `val/<metric>/<set>`) as lines; the best epoch of
    the first `ModelCheckpoint` with a `monitor` is marked. Writes `<run>/curves.png` and
    the numbers as `curves.csv`, and sends the picture to the loggers that take images.
    The history is kept in checkpoints, so a resumed run draws all its epochs.

    Args:
        filename: Name of the PNG file in the run directory.
    """

    def __init__(self, filename: str = "curves.png") -> None:
        self.filename = filename
        self.history: dict[int, dict[str, float]] = {}

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Record the epoch's metrics (validation has run by now)."""
        if trainer.sanity_checking:
            return
        self.history[trainer.current_epoch] = {
            key: float(value)
            for key, value in trainer.callback_metrics.items()
            if key.split("/")[0] in STAGES
            and not key.endswith(("_step", "_best"))
            and value.numel() == 1
        }

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Draw the curves (rank zero; not in a debug run)."""
        if self.history and not trainer.fast_dev_run:
            self._write(trainer)

    def _monitor(self, trainer: Trainer) -> tuple[str, str] | None:
        for callback in trainer.checkpoint_callbacks:
            if getattr(callback, "monitor", None):
                return callback.monitor, callback.mode
        return None

    @rank_zero_only
    def _write(self, trainer: Trainer) -> None:
        from matplotlib.ticker import MaxNLocator

        path = run_dir(trainer) / self.filename
        keys = sorted({key for values in self.history.values() for key in values})
        names = sorted({key.split("/")[1] for key in keys}, key=lambda n: (n != "loss", n))
        epochs = sorted(self.history)
        columns = min(len(names), 3)
        rows = math.ceil(len(names) / columns)
        figure = new_figure(4.6 * columns, 3.4 * rows + 0.4)
        monitored = self._monitor(trainer)
        best = _best_epoch(self.history, *monitored) if monitored else None
        for index, name in enumerate(names):
            axes = figure.add_subplot(rows, columns, index + 1)
            for key in (k for k in keys if k.split("/")[1] == name):
                points = [(e, self.history[e][key]) for e in epochs if key in self.history[e]]
                axes.plot(*zip(*points, strict=True), marker="o", markersize=3, label=key)
            if best is not None:
                value = self.history[best][monitored[0]]
                axes.axvline(best, color="grey", linestyle="--", linewidth=1,
                             label=f"best: epoch {best} ({monitored[0]} {value:.4g})")  # fmt: skip
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
            axes.set_xlabel("epoch")
            axes.set_title(name)
            axes.grid(alpha=0.3)
            axes.legend(fontsize=8)
        figure.suptitle(f"Training curves, {len(epochs)} epochs")
        publish_figure(trainer, figure, path)
        with open(path.with_suffix(".csv"), "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["epoch", *keys])
            for epoch in epochs:
                writer.writerow([epoch, *(self.history[epoch].get(key, "") for key in keys)])

    def state_dict(self) -> dict[str, Any]:
        """The metrics of the epochs so far, kept in checkpoints."""
        return {"history": {str(epoch): values for epoch, values in self.history.items()}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue the history of a resumed run."""
        self.history = {int(epoch): values for epoch, values in state_dict["history"].items()}

"""Draw the planned learning rate of the whole run at the start of fit."""

import copy
import csv
import math
import warnings
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.core.optimizer import LRSchedulerConfig
from lightning.pytorch.utilities import rank_zero_info
from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from runforge.callbacks.figures import new_figure, publish_figure
from runforge.runs.directory import run_dir


def _group_names(optimizer: Optimizer, index: int) -> list[str]:
    """Names like LearningRateMonitor's: `lr-AdamW/decay`, `lr-AdamW/pg1`, `lr-AdamW`."""
    base = f"lr-{type(optimizer).__name__}" + (f"-{index}" if index else "")
    groups = optimizer.param_groups
    if len(groups) == 1:
        name = groups[0].get("name")
        return [f"{base}/{name}" if name else base]
    return [f"{base}/{g.get('name', f'pg{i + 1}')}" for i, g in enumerate(groups)]


def plan_learning_rates(
    optimizer: Optimizer, config: LRSchedulerConfig | None, total_steps: int, steps_per_epoch: int
) -> np.ndarray:
    """The learning rate of every parameter group at each optimizer step, shape (steps, groups).

    The plan is made on a copy of the optimizer and scheduler; the parameters and the
    optimizer state are not copied, and the real scheduler is never stepped.
    """
    groups = optimizer.param_groups
    if config is None:
        return np.tile([g["lr"] for g in groups], (total_steps, 1))
    # Copy scheduler and optimizer together (so the copy steps the copied optimizer), with
    # tiny stand-ins for the parameters and no optimizer state.
    memo = {id(p): torch.empty(0) for g in groups for p in g["params"]}
    memo[id(optimizer.state)] = {}
    scheduler = copy.deepcopy(config.scheduler, memo)
    planned = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "lr_scheduler.step() before optimizer.step()"
        for step in range(total_steps):
            planned.append([g["lr"] for g in scheduler.optimizer.param_groups])
            if config.interval == "step" and (step + 1) % config.frequency == 0:
                scheduler.step()
            elif config.interval == "epoch" and (step + 1) % steps_per_epoch == 0:
                if ((step + 1) // steps_per_epoch) % config.frequency == 0:
                    scheduler.step()
    return np.asarray(planned, dtype=float)


class LRCurve(Callback):
    """At the start of fit, draw the planned learning rate of every parameter group over the run.

    Writes `<run>/<filename>` (PNG) and a CSV beside it (one column per parameter
    group, named like `LearningRateMonitor`'s keys), and logs the image under the file's
    stem to TensorBoard, to loggers with a `log_image` method (W&B) and to MLflow (an
    artifact), like every figure of the run (`runforge.callbacks.figures.publish_figure`).
    Schedules that depend on metrics (`ReduceLROnPlateau`) cannot be planned and are
    skipped. A fit that ends before its planned last step (early stopping, `max_time`)
    redraws the picture with the step where it stopped and the rate it had reached marked.

    Args:
        filename: Name of the PNG file in the run directory.
    """

    def __init__(self, filename: str = "lr_curve.png") -> None:
        self.filename = filename
        self.plan: dict[str, np.ndarray] = {}
        self._png = Path(filename)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Plan the curve and save it (rank zero only; a resumed run keeps its first curve)."""
        if trainer.fast_dev_run:  # a debug run writes nothing
            return
        # Every rank asks for the run's length: working it out may synchronise the processes.
        total = trainer.estimated_stepping_batches
        batches = trainer.num_training_batches
        if not trainer.is_global_zero:
            return
        png = run_dir(trainer) / self.filename
        self._png = png
        if trainer.ckpt_path is not None and png.is_file():
            rank_zero_info(f"LRCurve: resumed run; keeping the curve planned at its start, {png}")
            self.plan = _read_plan(png.with_suffix(".csv"))
            return
        if not (np.isfinite(total) and np.isfinite(batches)):
            rank_zero_info("LRCurve: the run's length is unknown; no learning-rate curve drawn")
            return
        total = int(total)
        steps_per_epoch = max(1, math.ceil(batches / trainer.accumulate_grad_batches))
        configs = {id(c.scheduler.optimizer): c for c in trainer.lr_scheduler_configs}
        self.plan = {}
        for index, optimizer in enumerate(trainer.optimizers):
            config = configs.get(id(optimizer))
            if config is not None and isinstance(config.scheduler, ReduceLROnPlateau):
                rank_zero_info("LRCurve: ReduceLROnPlateau depends on metrics; not drawn")
                continue
            rates = plan_learning_rates(optimizer, config, total, steps_per_epoch)
            for name, column in zip(_group_names(optimizer, index), rates.T, strict=True):
                self.plan[name] = column
        if self.plan:
            self._save(trainer, png)

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Mark where the run stopped when that is before its planned last step."""
        planned = len(next(iter(self.plan.values()), ()))
        stopped = trainer.global_step
        if not trainer.is_global_zero or not 0 < stopped < planned:
            if trainer.is_global_zero and planned and trainer.ckpt_path is not None:
                self._save(trainer, self._png)  # a resumed run that finished: no mark left
            return
        self._save(trainer, self._png, stopped)
        name, rates = next(iter(self.plan.items()))
        share = rates[stopped - 1] / max(rates.max(), 1e-30)
        rank_zero_info(
            f"LRCurve: the run stopped at step {stopped} of {planned} planned, at {share:.0%} "
            f"of the peak rate ({name}); marked in {self._png}"
        )

    def _save(self, trainer: Trainer, png: Path, stopped: int | None = None) -> None:
        publish_figure(trainer, self._figure(stopped), png, step=stopped or 0, announce=False)
        with open(png.with_suffix(".csv"), "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["step", *self.plan])
            for step, row in enumerate(zip(*self.plan.values(), strict=True)):
                writer.writerow([step, *(repr(float(v)) for v in row)])
        if stopped is None and trainer.ckpt_path is None:
            rank_zero_info(f"LRCurve: planned learning rates drawn in {png}")

    def _figure(self, stopped: int | None = None):
        figure = new_figure(7, 4)
        axes = figure.add_subplot()
        for name, rates in self.plan.items():
            steps = np.arange(len(rates))
            if stopped is None:
                axes.plot(steps, rates, label=name)
                continue
            (line,) = axes.plot(steps[:stopped], rates[:stopped], label=name)
            axes.plot(steps[stopped - 1 :], rates[stopped - 1 :], ls=":", c=line.get_color())
        title = "Planned learning rate"
        if stopped is not None:
            planned = len(next(iter(self.plan.values())))
            axes.axvline(stopped, color="crimson", lw=1.2, label=f"stopped at step {stopped}")
            title = (
                f"Learning rate: stopped at step {stopped} of {planned} planned (dotted: not run)"
            )
        axes.set_xlabel("optimizer step")
        axes.set_ylabel("learning rate")
        axes.set_title(title)
        axes.grid(alpha=0.3)
        axes.legend()
        return figure


def _read_plan(path: Path) -> dict[str, np.ndarray]:
    """The plan saved in `lr_curve.csv` at the run's first start (empty if there is none)."""
    if not path.is_file():
        return {}
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    names = [name for name in (rows[0] if rows else {}) if name != "step"]
    return {name: np.array([float(row[name]) for row in rows]) for name in names}

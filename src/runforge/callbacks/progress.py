"""Progress: Rich's bar on a terminal, plain lines in a log file (nohup, SLURM, CI)."""

import time
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import RichProgressBar
from rich import get_console, reconfigure


class ProgressBar(RichProgressBar):
    """Rich's progress bar, redrawn by time; plain progress lines when output is not a terminal.

    On a terminal (or in Jupyter) the bar is drawn by a background thread `refresh_rate` times
    a second, and the metrics it shows are read at most that often, not after every step (each
    read is a host sync on a GPU). When output goes to a file or a pipe (nohup, SLURM, CI),
    where Rich would only write the final frame, it prints plain lines instead: one every
    `print_every_n_steps` training steps and one per epoch with the epoch's metrics.

    Args:
        refresh_rate: Redraws (and metric reads) per second on a terminal.
        print_every_n_steps: Without a terminal: a line every this many training steps (0:
            only the line per epoch).
        leave: Keep each finished epoch's bar on the terminal.
        console_kwargs: Arguments of Rich's `Console` (e.g. `force_terminal: true`).
    """

    def __init__(
        self,
        refresh_rate: int = 4,
        print_every_n_steps: int = 100,
        leave: bool = False,
        console_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(refresh_rate=refresh_rate, leave=leave, console_kwargs=console_kwargs)
        self.print_every_n_steps = print_every_n_steps
        #: Whether output is plain lines (decided at setup from the console).
        self.plain = False
        self._metrics_read = 0.0
        self._epoch_start = 0.0
        #: Steps of the current epoch trained before this fit resumed it (0: a whole epoch).
        self._resumed_at = 0

    @property
    def is_enabled(self) -> bool:
        """Whether Rich draws: on rank zero, with a terminal."""
        return super().is_enabled and not self.plain

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Choose the bar or plain lines from where the output goes."""
        super().setup(trainer, pl_module, stage)
        reconfigure(**self._console_kwargs)
        console = get_console()
        self.plain = not (console.is_terminal or console.is_jupyter)

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Advance the bar; read the metrics only when the bar is next redrawn."""
        if self.plain:
            every = self.print_every_n_steps
            if self._enabled and every and (batch_idx + 1) % every == 0:
                self._print_step(trainer, batch_idx + 1)
            return
        if self.is_disabled:
            return
        if self.train_progress_bar_id is None:  # resumed mid-epoch
            self._initialize_train_progress_bar_id()
        self._update(self.train_progress_bar_id, batch_idx + 1)
        now = time.monotonic()
        if now - self._metrics_read >= 1.0 / self.refresh_rate:
            self._metrics_read = now
            self._update_metrics(trainer, pl_module)

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start the clock; a fit resumed part-way through an epoch starts in that epoch."""
        self._epoch_start = time.monotonic()
        self._resumed_at = trainer.fit_loop.epoch_loop.batch_progress.current.completed
        super().on_train_start(trainer, pl_module)

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start the epoch's bar (or its clock, for plain lines)."""
        self._epoch_start, self._resumed_at = time.monotonic(), 0
        super().on_train_epoch_start(trainer, pl_module)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Show the epoch's metrics (a plain line: steps, time and every metric)."""
        if self.plain:
            seconds = time.monotonic() - self._epoch_start
            if self._enabled:
                done = trainer.fit_loop.epoch_loop.batch_progress.current.completed
                whole = done == self.total_train_batches
                steps = f"{done} steps" if whole else f"{done} of {self._total()} steps"
                if self._resumed_at:  # the time is that of the steps after the resume
                    steps += f" ({done - self._resumed_at} after the resume)"
                self._print_line(trainer, pl_module, f"done: {steps}, {seconds:.1f} s")
            return
        super().on_train_epoch_end(trainer, pl_module)

    def _total(self) -> str:
        total = self.total_train_batches
        return str(total) if total != float("inf") else "?"

    @staticmethod
    def _epoch(trainer: Trainer) -> str:
        epochs = f"/{trainer.max_epochs - 1}" if trainer.max_epochs not in (None, -1) else ""
        return f"Epoch {trainer.current_epoch}{epochs}"

    def _print_step(self, trainer: Trainer, step: int) -> None:
        rate = step / max(time.monotonic() - self._epoch_start, 1e-9)
        line = f"{self._epoch(trainer)} step {step}/{self._total()}  {rate:.1f} it/s"
        loss = trainer.callback_metrics.get("train/loss_step")
        if loss is not None:  # logged every trainer.log_every_n_steps
            line += f"  train/loss_step {float(loss):.4g}"
        print(line, flush=True)

    def _print_line(self, trainer: Trainer, pl_module: LightningModule, where: str) -> None:
        metrics = self.get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        shown = "  ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in sorted(metrics.items())
        )
        print(f"{self._epoch(trainer)} {where}  {shown}".rstrip(), flush=True)

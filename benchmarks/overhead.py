"""Per-step cost of `fit` with the default callbacks vs a hand-written PyTorch loop.

Three runs train the default recipe (SimpleNet, AdamW, the cosine schedule stepped per
optimizer step, a running loss and accuracy) on the digits data with the same batches: a
raw loop, Lightning's loop alone (no callbacks, logger or progress bar) and `fit` with the
defaults of configs/default.yaml. Only the training steps are timed (from the start of an
epoch to its last batch; validation and checkpoints are left out), after one warm-up epoch,
in CPU time of the process (all its threads, so a progress bar's drawing thread counts; on
a shared machine CPU time is far less noisy than wall time). The runs are interleaved in
one process on one torch thread; figures are medians over the repetitions.

.venv/bin/python benchmarks/overhead.py [--batch_sizes 16 128] [--repeats 5]
"""

import argparse
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import torch
import torch.nn.functional as F
from lightning.pytorch import Callback, Trainer
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from data_modules import DigitsDataModule
from models import SimpleNet
from runforge.cli.cli import CLI
from runforge.optim import WarmupSchedule

ROOT = Path(__file__).resolve().parents[1]


class TrainTimer(Callback):
    """Seconds and steps of each training epoch (start of the epoch to its last batch)."""

    def __init__(self) -> None:
        self.epochs: list[tuple[float, int]] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:  # noqa: D102
        self._start, self._steps = time.process_time(), 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: D102
        self._steps += 1
        self._end = time.process_time()

    def on_train_epoch_end(self, trainer, pl_module) -> None:  # noqa: D102
        self.epochs.append((self._end - self._start, self._steps))


def per_step(epochs: list[tuple[float, int]]) -> float:
    """Seconds per step over all epochs but the first (warm-up)."""
    timed = epochs[1:]
    return sum(t for t, _ in timed) / sum(n for _, n in timed)


#: Callback hooks that run at every training step.
STEP_HOOKS = (
    "on_train_batch_start", "on_before_backward", "on_after_backward",
    "on_before_optimizer_step", "on_before_zero_grad", "on_train_batch_end",
)  # fmt: skip


def _time_step_hooks(callback: Callback, costs: Counter) -> None:
    """Add the CPU time of `callback`'s own per-step hooks to `costs[class name]`."""
    for hook in STEP_HOOKS:
        if getattr(type(callback), hook) is getattr(Callback, hook):
            continue  # not overridden: only Lightning's dispatch, counted in "the loop"
        original = getattr(callback, hook)

        def timed(*args, _original=original, **kwargs):
            start = time.process_time()
            _original(*args, **kwargs)
            costs[type(callback).__name__] += time.process_time() - start

        setattr(callback, hook, timed)


def fit_seconds_per_step(
    batch_size: int, epochs: int, root: str, bare: bool = False, costs: Counter | None = None
) -> float:
    """Train with the CLI's defaults (configs/default.yaml + the digits recipe).

    `bare`: the same model and data in a Trainer without callbacks, logger or progress bar
    (Lightning's loop alone). `costs`: add each callback's per-step hook time to it.
    """
    args = [
        "-c", str(ROOT / "configs/data/digits.yaml"),
        "-c", str(ROOT / "configs/model/simplenet.yaml"),
        "--data.batch_size", str(batch_size),
        "--trainer.max_epochs", str(epochs),
        "--run.root", root,
    ]  # fmt: skip
    cli = CLI(args=args, run=False)
    timer = TrainTimer()
    trainer = cli.trainer
    if bare:
        trainer = Trainer(
            max_epochs=epochs, logger=False, callbacks=[timer], enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False, default_root_dir=root,
        )  # fmt: skip
    else:
        steps = Counter()
        for callback in trainer.callbacks:
            _time_step_hooks(callback, steps)
        trainer.callbacks.append(timer)
    trainer.fit(cli.model, datamodule=cli.datamodule)
    if costs is not None and not bare:
        n = sum(count for _, count in timer.epochs)
        costs.update({name: seconds / n for name, seconds in steps.items()})
    return per_step(timer.epochs)


def raw_seconds_per_step(batch_size: int, epochs: int) -> float:
    """The same training written by hand: loader, preprocess, step, schedule, metrics."""
    torch.manual_seed(42)
    data = DigitsDataModule(batch_size=batch_size, val_fraction=0.1, test_fraction=0.2)
    data.setup("fit")
    loader = data.train_dataloader()
    model = SimpleNet(input_shape=data.input_shape, channels=[32, 64], hidden_size=128)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.003, weight_decay=0.01)
    scheduler = WarmupSchedule(warmup_steps=0)(optimizer, epochs * len(loader))
    mean_loss, accuracy = MeanMetric(), MulticlassAccuracy(10, average="micro")
    model.train()
    timed = []
    for _ in range(epochs):
        start, steps = time.process_time(), 0
        for images, labels in loader:
            images = data.preprocess(images)
            logits = model(images)
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            mean_loss.update(loss.detach())
            accuracy.update(logits.detach(), labels)
            steps += 1
        timed.append((time.process_time() - start, steps))
        mean_loss.compute(), accuracy.compute()
        mean_loss.reset(), accuracy.reset()
    return per_step(timed)


def main() -> None:
    """Print ms/step of each and the ratios per batch size (median of interleaved repeats)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[16, 128])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=4, help="per run; the first is warm-up")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = []
    with tempfile.TemporaryDirectory() as root:
        for batch_size in args.batch_sizes:
            runs: dict[str, list[float]] = {"raw": [], "bare": [], "fit": []}
            costs: Counter = Counter()
            for _ in range(args.repeats):
                runs["raw"].append(raw_seconds_per_step(batch_size, args.epochs))
                runs["bare"].append(fit_seconds_per_step(batch_size, args.epochs, root, True))
                runs["fit"].append(fit_seconds_per_step(batch_size, args.epochs, root, costs=costs))
            results.append((batch_size, runs, costs))
    print(f"CPU ms per training step, median of {args.repeats} interleaved runs (1 torch thread)")
    for batch_size, runs, costs in results:
        ms = {name: statistics.median(values) * 1e3 for name, values in runs.items()}
        ratios = [f / r for f, r in zip(runs["fit"], runs["raw"], strict=True)]
        bare = statistics.median(b / r for b, r in zip(runs["bare"], runs["raw"], strict=True))
        over_bare = statistics.median(f / b for f, b in zip(runs["fit"], runs["bare"], strict=True))
        print(
            f"batch {batch_size:4d}: raw loop {ms['raw']:.2f}, Lightning loop alone "
            f"{ms['bare']:.2f}, fit (defaults) {ms['fit']:.2f}  ->  fit / raw "
            f"{statistics.median(ratios):.3f} (each: {' '.join(f'{r:.2f}' for r in ratios)}); "
            f"Lightning loop alone / raw {bare:.3f}; fit / Lightning loop alone {over_bare:.3f}"
        )
        hooks = ", ".join(
            f"{name} {seconds * 1e3 / args.repeats:.3f}" for name, seconds in costs.most_common()
        )
        print(f"    per-step hooks of the default callbacks (ms): {hooks}")


if __name__ == "__main__":
    main()

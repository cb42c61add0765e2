"""runforge.optim.WarmupSchedule: the rate per optimizer step follows the formula; clear errors."""

import math

import pytest
import torch
from lightning.pytorch import Callback, Trainer
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from runforge.optim import ScheduleError, WarmupSchedule
from runforge.tasks import OptimizedTask

PEAK, START, END = 2e-3, 1e-5, 1e-4


class TinyTask(OptimizedTask):
    """A linear regression on random data, enough to drive the trainer."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.net = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.net(x), y)

    def train_dataloader(self):
        data = TensorDataset(torch.randn(40, 4), torch.randn(40, 1))
        return DataLoader(data, batch_size=4)  # 10 batches per epoch


class RecordLR(Callback):
    """The learning rate of every parameter group used by each optimizer step."""

    def __init__(self) -> None:
        self.lrs: list[list[float]] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self.lrs.append([g["lr"] for g in optimizer.param_groups])


def fit(schedule, max_epochs=3, accumulate=2, **trainer_kwargs):
    """Fit TinyTask with `schedule`; return the trainer and the recorded rates (group 0)."""
    torch.manual_seed(0)
    task = TinyTask(
        optimizer=lambda params: torch.optim.AdamW(params, lr=PEAK, weight_decay=0.1),
        lr_scheduler=schedule,
    )
    record = RecordLR()
    trainer = Trainer(
        max_epochs=max_epochs,
        accumulate_grad_batches=accumulate,
        callbacks=[record],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **trainer_kwargs,
    )
    trainer.fit(task)
    return trainer, [row[0] for row in record.lrs], record.lrs


def expected(decay: str, step: int, total: int, warmup: int, power: float = 2.0) -> float:
    """The schedule's formula, written independently of the torch schedulers."""
    if step < warmup:
        return START + (PEAK - START) * step / warmup
    progress = min((step - warmup) / (total - 1 - warmup), 1.0)
    return {
        "cosine": END + (PEAK - END) * (1 + math.cos(math.pi * progress)) / 2,
        "linear": PEAK + (END - PEAK) * progress,
        "exponential": PEAK * (END / PEAK) ** progress,
        "polynomial": END + (PEAK - END) * (1 - progress) ** power,
        "constant": PEAK,
    }[decay]


@pytest.mark.parametrize("decay", ["cosine", "linear", "exponential", "polynomial", "constant"])
def test_rate_per_step_follows_the_formula_over_the_trainers_run(decay):
    schedule = WarmupSchedule(warmup_steps=4, decay=decay, lr_initial=START, lr_end=END)
    trainer, lrs, groups = fit(schedule)
    total = trainer.estimated_stepping_batches
    assert total == 3 * 10 // 2 == len(lrs), "one scheduler step per optimizer step"
    assert trainer.lr_scheduler_configs[0].interval == "step"
    end = PEAK if decay == "constant" else END
    assert lrs[0] == pytest.approx(START, abs=1e-9)
    assert lrs[4] == pytest.approx(PEAK, abs=1e-9)
    assert lrs[-1] == pytest.approx(end, abs=1e-9)
    for step, lr in enumerate(lrs):
        assert lr == pytest.approx(expected(decay, step, total, 4), abs=1e-9), step
    assert all(len(set(row)) == 1 for row in groups), "both parameter groups share the rate"


def test_length_follows_max_steps_and_fractional_warmup():
    schedule = WarmupSchedule(warmup_steps=0.25, decay="linear", initial_factor=0.5, end_factor=0)
    trainer, lrs, _ = fit(schedule, max_epochs=10, accumulate=1, max_steps=12)
    assert trainer.estimated_stepping_batches == 12 == len(lrs)
    assert lrs[0] == pytest.approx(PEAK / 2)
    assert lrs[3] == pytest.approx(PEAK)  # round(0.25 * 12) warmup steps
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)


def test_rate_holds_at_lr_end_after_the_planned_steps():
    """A run longer than `total_steps` keeps lr_end (cosine would otherwise climb back up)."""
    schedule = WarmupSchedule(warmup_steps=2, decay="cosine", lr_end=END, total_steps=8)
    _, lrs, _ = fit(schedule, max_epochs=2, accumulate=1)
    assert len(lrs) == 20
    assert lrs[7] == pytest.approx(END, abs=1e-12)
    assert lrs[8:] == pytest.approx([END] * 12, abs=1e-12)


def test_scheduler_state_round_trip_continues_at_the_same_rate():
    def build():
        params = [nn.Parameter(torch.zeros(2))]
        optimizer = torch.optim.SGD(params, lr=PEAK)
        return optimizer, WarmupSchedule(3, "polynomial", lr_end=END)(optimizer, 20)

    optimizer, scheduler = build()
    rates = []
    for _ in range(20):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    optimizer, scheduler = build()
    for _ in range(9):
        optimizer.step()
        scheduler.step()
    saved = optimizer.state_dict(), scheduler.state_dict()
    optimizer, scheduler = build()
    optimizer.load_state_dict(saved[0])
    scheduler.load_state_dict(saved[1])
    resumed = []
    for _ in range(11):
        resumed.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert resumed == pytest.approx(rates[9:], abs=1e-15)
    assert scheduler.total_steps == 20


@pytest.mark.parametrize(
    ("kwargs", "total", "named"),
    [
        ({"warmup_steps": 20}, 20, "warmup_steps"),
        ({"warmup_steps": 0.995}, 100, "warmup_steps"),
        ({"warmup_steps": -1}, 20, "warmup_steps"),
        ({"warmup_steps": 1.5}, 20, "warmup_steps"),
        ({"lr_end": 1.0}, 20, "lr_end"),
        ({"lr_initial": 1.0}, 20, "lr_initial"),
        ({"lr_initial": 0.0}, 20, "lr_initial"),
        ({"decay": "exponential", "end_factor": 0.0}, 20, "lr_end"),
        ({"total_steps": -5}, 20, "total_steps"),
        ({}, float("inf"), "total_steps"),
    ],
)
def test_bad_values_name_the_argument(kwargs, total, named):
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ScheduleError, match=named):
        WarmupSchedule(**kwargs)(optimizer, total)


def test_groups_with_different_peaks_are_refused():
    a, b = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    with pytest.raises(ScheduleError, match="one peak lr"):
        WarmupSchedule()(optimizer, 10)


def test_a_one_step_run_without_warmup_runs_at_the_peak():
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    WarmupSchedule(decay="cosine")(optimizer, 1)  # fast_dev_run: one optimizer step
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)
    with pytest.raises(ScheduleError, match="warmup_steps=1"):
        WarmupSchedule(warmup_steps=1)(optimizer, 2)

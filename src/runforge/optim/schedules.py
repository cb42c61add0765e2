"""Learning-rate schedules planned over the whole run and stepped after every optimizer step.

A `RunSchedule` is configured in YAML like any class (`class_path: runforge.optim.WarmupSchedule`);
the task calls it with the optimizer and the run's number of optimizer steps
(`trainer.estimated_stepping_batches`) and gets back a torch `LRScheduler`.
"""

import math
import sys
from abc import ABC, abstractmethod
from typing import Literal

from torch.optim import Optimizer
from torch.optim.lr_scheduler import (
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    LRScheduler,
    PolynomialLR,
    SequentialLR,
)

from runforge.errors import ConfigError

#: How the rate falls from the peak to `lr_end` after the warmup.
Decay = Literal["cosine", "linear", "exponential", "polynomial", "constant"]

#: Used as "never" for `ConstantLR.total_iters`: the final hold lasts for the rest of the run.
_FOREVER = sys.maxsize


class ScheduleError(ConfigError):
    """A schedule argument is out of range; the message names the argument."""


class RunSchedule(ABC):
    """A learning-rate schedule that needs the run's length; it steps after every optimizer step.

    Subclasses build a torch `LRScheduler` in `__call__(optimizer, total_steps)`.
    """

    #: Schedules of this kind always step per optimizer step; the task does not ask the user.
    interval: Literal["step"] = "step"

    @abstractmethod
    def __call__(self, optimizer: Optimizer, total_steps: int | float) -> LRScheduler:
        """Build the scheduler for `optimizer` over a run of `total_steps` optimizer steps."""


class PolynomialToLR(PolynomialLR):
    """`torch.optim.lr_scheduler.PolynomialLR` that decays to `eta_min` instead of to zero.

    lr(t) = eta_min + (base_lr - eta_min) * (1 - t / total_iters) ** power, held after
    `total_iters`. With `eta_min=0` it is exactly `PolynomialLR`.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        total_iters: int = 5,
        power: float = 1.0,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        self.eta_min = eta_min
        super().__init__(optimizer, total_iters=total_iters, power=power, last_epoch=last_epoch)

    def get_lr(self) -> list[float]:
        """Next rate from the current one (the recursive form torch schedulers use)."""
        if self._is_initial or self.last_epoch > self.total_iters:
            return [group["lr"] for group in self.optimizer.param_groups]
        ratio = (
            (1.0 - self.last_epoch / self.total_iters)
            / (1.0 - (self.last_epoch - 1) / self.total_iters)
        ) ** self.power
        return [
            self.eta_min + ratio * (group["lr"] - self.eta_min)
            for group in self.optimizer.param_groups
        ]

    def _get_closed_form_lr(self) -> list[float]:
        progress = min(self.total_iters, self.last_epoch) / self.total_iters
        return [
            self.eta_min + (base_lr - self.eta_min) * (1.0 - progress) ** self.power
            for base_lr in self.base_lrs
        ]


class PlannedLR(SequentialLR):
    """`SequentialLR` that remembers the run length it was planned for (saved in checkpoints).

    Attributes:
        total_steps: Optimizer steps the schedule was planned for.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: list[LRScheduler],
        milestones: list[int],
        total_steps: int,
    ) -> None:
        super().__init__(optimizer, schedulers, milestones)
        self.total_steps = total_steps


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ScheduleError(message)


class WarmupSchedule(RunSchedule):
    """Linear warmup to the optimizer's `lr`, then a decay to `lr_end`; steps every optimizer step.

    Step 0 uses `lr_initial`, step `warmup_steps` the optimizer's `lr` (the peak), and the
    last step of the run `lr_end`; afterwards the rate stays at `lr_end`. The run length is
    `trainer.estimated_stepping_batches` (it follows `max_epochs`/`max_steps`, gradient
    accumulation and the number of devices) unless `total_steps` is given. Built from
    torch schedulers: `SequentialLR` of `LinearLR` (warmup), the decay
    (`CosineAnnealingLR`, `LinearLR`, `ExponentialLR`, `PolynomialToLR` or `ConstantLR`)
    and a final `ConstantLR` hold.

    Args:
        warmup_steps: Length of the warmup: an integer number of optimizer steps, or a
            float in [0, 1) for that fraction of the run (0.05 = the first 5 %).
        decay: Shape after the warmup: `cosine`, `linear`, `exponential`, `polynomial`
            or `constant` (stay at the peak).
        lr_initial: Rate at step 0, absolute. Default: `initial_factor` x peak.
        initial_factor: Rate at step 0 as a fraction of the peak, used when `lr_initial`
            is not given; in (0, 1].
        lr_end: Rate at the last step, absolute. Default: `end_factor` x peak.
        end_factor: Rate at the last step as a fraction of the peak, used when `lr_end` is
            not given; in [0, 1] (> 0 for `exponential`).
        power: Exponent of the `polynomial` decay (1 is linear).
        total_steps: Optimizer steps of the whole run; default: the trainer's estimate.
    """

    def __init__(
        self,
        warmup_steps: int | float = 0,
        decay: Decay = "cosine",
        lr_initial: float | None = None,
        initial_factor: float = 0.01,
        lr_end: float | None = None,
        end_factor: float = 0.0,
        power: float = 2.0,
        total_steps: int | None = None,
    ) -> None:
        if isinstance(warmup_steps, float):
            _check(
                0.0 <= warmup_steps < 1.0,
                f"warmup_steps={warmup_steps}: a float is a fraction of the run and must be "
                "in [0, 1); give an integer for a number of steps",
            )
        else:
            _check(warmup_steps >= 0, f"warmup_steps={warmup_steps} must be >= 0")
        _check(
            decay in Decay.__args__, f"decay={decay!r} must be one of {', '.join(Decay.__args__)}"
        )
        _check(
            lr_initial is None or lr_initial > 0,
            f"lr_initial={lr_initial} must be > 0 (torch's LinearLR cannot start at 0)",
        )
        _check(0.0 < initial_factor <= 1.0, f"initial_factor={initial_factor} must be in (0, 1]")
        _check(lr_end is None or lr_end >= 0, f"lr_end={lr_end} must be >= 0")
        _check(0.0 <= end_factor <= 1.0, f"end_factor={end_factor} must be in [0, 1]")
        _check(power > 0, f"power={power} must be > 0")
        _check(total_steps is None or total_steps > 0, f"total_steps={total_steps} must be > 0")
        self.warmup_steps = warmup_steps
        self.decay = decay
        self.lr_initial = lr_initial
        self.initial_factor = initial_factor
        self.lr_end = lr_end
        self.end_factor = end_factor
        self.power = power
        self.total_steps = total_steps

    def resolve_steps(self, total_steps: int | float) -> tuple[int, int]:
        """The run length and the warmup length in optimizer steps, checked."""
        total = self.total_steps if self.total_steps is not None else total_steps
        _check(
            total is not None and math.isfinite(total),
            "total_steps: the trainer cannot estimate the run's length (max_epochs=-1 and no "
            "max_steps); set trainer.max_steps or the schedule's total_steps",
        )
        total = int(total)
        warmup = self.warmup_steps
        if isinstance(warmup, float):
            warmup = round(warmup * total)
        _check(
            warmup == 0 or warmup <= total - 2,
            f"warmup_steps={self.warmup_steps} ({warmup} steps) is too long for a run of "
            f"total_steps={total} optimizer steps: the decay needs at least one step after it",
        )
        return total, warmup

    def __call__(self, optimizer: Optimizer, total_steps: int | float) -> PlannedLR:
        """Build the `SequentialLR` for `optimizer` over a run of `total_steps` optimizer steps."""
        total, warmup = self.resolve_steps(total_steps)
        peaks = [group.get("initial_lr", group["lr"]) for group in optimizer.param_groups]
        peak = peaks[0]
        _check(
            all(math.isclose(p, peak, rel_tol=1e-12) for p in peaks),
            f"WarmupSchedule needs one peak lr for all parameter groups, got {peaks}",
        )
        _check(peak > 0, f"the optimizer's lr={peak} must be > 0")
        start = self.lr_initial if self.lr_initial is not None else self.initial_factor * peak
        _check(start <= peak, f"lr_initial={start} must not exceed the optimizer's lr={peak}")
        end = self.lr_end if self.lr_end is not None else self.end_factor * peak
        if self.decay == "constant":
            end = peak
        _check(end <= peak, f"lr_end={end} must not exceed the optimizer's lr={peak}")
        _check(
            self.decay != "exponential" or end > 0,
            "lr_end (or end_factor) must be > 0 for the exponential decay",
        )
        # The last step of the run (total - 1) reaches lr_end; a one-step run (fast_dev_run)
        # has no room for a decay and runs at the peak.
        decay_steps = max(total - 1 - warmup, 1)
        decay = self._decay(optimizer, decay_steps, peak, end)
        hold = ConstantLR(optimizer, factor=end / peak, total_iters=_FOREVER)
        schedulers: list[LRScheduler] = [decay, hold]
        milestones = [warmup + decay_steps]
        if warmup > 0:
            ramp = LinearLR(
                optimizer, start_factor=start / peak, end_factor=1.0, total_iters=warmup
            )
            schedulers.insert(0, ramp)
            milestones.insert(0, warmup)
        return PlannedLR(optimizer, schedulers, milestones, total_steps=total)

    def _decay(self, optimizer: Optimizer, steps: int, peak: float, end: float) -> LRScheduler:
        if self.decay == "cosine":
            return CosineAnnealingLR(optimizer, T_max=steps, eta_min=end)
        if self.decay == "linear":
            return LinearLR(optimizer, start_factor=1.0, end_factor=end / peak, total_iters=steps)
        if self.decay == "exponential":
            return ExponentialLR(optimizer, gamma=(end / peak) ** (1.0 / steps))
        if self.decay == "polynomial":
            return PolynomialToLR(optimizer, total_iters=steps, power=self.power, eta_min=end)
        return ConstantLR(optimizer, factor=1.0, total_iters=steps)

"""The configured optimizer settings win over the ones a resumed fit restores.

`optimizer.load_state_dict` (how a fit resumes from a checkpoint) replaces every setting of
every parameter group with the checkpoint's: a resume with another `lr` or `weight_decay`
would silently run at the old values. The settings as configured are taken before the
scheduler touches them and are put back after the restore; the optimizer's state (moments,
step counts) and the scheduler's progress stay the checkpoint's.
"""

from collections.abc import Iterable
from typing import Any

from torch.optim import Optimizer

#: Scheduler attributes that hold learning rates (scaled with a changed peak rate).
_RATES = ("base_lrs", "_last_lr", "eta_min")


def group_settings(optimizer: Optimizer) -> list[dict[str, Any]]:
    """Each parameter group's settings (lr, weight_decay, betas, ...) without its parameters."""
    return [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]


def _scale_rates(scheduler: Any, index: int, factor: float) -> None:
    """Multiply the rates of parameter group `index` in `scheduler` and its child schedulers."""
    scaled = set()  # a list that a scheduler shares with its children is scaled once
    for part in (scheduler, *getattr(scheduler, "_schedulers", ())):
        for name in _RATES:
            value = getattr(part, name, None)
            if isinstance(value, list) and id(value) not in scaled:
                scaled.add(id(value))
                value[index] *= factor
            elif isinstance(value, float) and index == 0:  # one value for all groups
                setattr(part, name, value * factor)


def restore_settings(
    optimizer: Optimizer, configured: list[dict[str, Any]], schedulers: Iterable[Any]
) -> None:
    """Put the configured settings back into a restored optimizer's parameter groups.

    A changed peak rate (`initial_lr` once a scheduler is attached) scales the schedule by
    new / old, so the resumed run follows the same shape at the configured peak. Settings
    equal to the checkpoint's are left as they are (a resume stays bit-exact).
    """
    if len(configured) != len(optimizer.param_groups):
        return
    schedulers = list(schedulers)
    for index, (group, wanted) in enumerate(zip(optimizer.param_groups, configured, strict=True)):
        group.update({k: v for k, v in wanted.items() if k != "lr"})
        restored = group.get("initial_lr", group["lr"])
        if wanted["lr"] != restored and restored:
            factor = wanted["lr"] / restored
            group["lr"] *= factor
            if "initial_lr" in group:
                group["initial_lr"] = wanted["lr"]
            for scheduler in schedulers:
                _scale_rates(scheduler, index, factor)

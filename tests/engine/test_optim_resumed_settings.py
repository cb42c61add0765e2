"""A resumed optimizer gets the configured settings back; a new peak rate scales its schedule."""

import io

import pytest
import torch

from runforge.optim.resumed_settings import group_settings, restore_settings
from runforge.optim.schedules import WarmupSchedule

TOTAL = 12


def _built(lr: float, weight_decay: float = 0.01):
    """An AdamW over one parameter (two groups) and a warmup + cosine plan of TOTAL steps."""
    weight, bias = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.zeros(3))
    groups = [{"params": [weight]}, {"params": [bias], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    configured = group_settings(optimizer)
    schedule = WarmupSchedule(warmup_steps=3, decay="cosine", end_factor=0.1)
    return optimizer, schedule(optimizer, TOTAL), configured


def _rates(optimizer, scheduler, steps: int) -> list[float]:
    rates = []
    for _ in range(steps):
        rates += [g["lr"] for g in optimizer.param_groups]
        optimizer.step()
        scheduler.step()
    return rates


def _saved(optimizer, scheduler) -> dict:
    """The two states through torch.save and safe loading, as a checkpoint holds them."""
    buffer = io.BytesIO()
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("stopped_at", [2, 5])  # in the warmup, in the cosine decay
def test_a_new_peak_rate_scales_the_rest_of_the_schedule(stopped_at):
    optimizer, scheduler, _ = _built(lr=0.003)
    _rates(optimizer, scheduler, stopped_at)
    state = _saved(optimizer, scheduler)
    resumed, resumed_scheduler, configured = _built(lr=0.006, weight_decay=0.05)
    resumed.load_state_dict(state["optimizer"])
    resumed_scheduler.load_state_dict(state["scheduler"])
    assert resumed.param_groups[0]["initial_lr"] == 0.003  # what restoring alone leaves
    restore_settings(resumed, configured, [resumed_scheduler])
    assert [g["weight_decay"] for g in resumed.param_groups] == [0.05, 0.0]
    assert [g["initial_lr"] for g in resumed.param_groups] == [0.006, 0.006]
    assert resumed_scheduler.get_last_lr() == [g["lr"] for g in resumed.param_groups]
    planned, planned_scheduler, _ = _built(lr=0.006)  # a run planned at the new peak
    expected = _rates(planned, planned_scheduler, TOTAL)[2 * stopped_at :]  # two groups
    assert _rates(resumed, resumed_scheduler, TOTAL - stopped_at) == pytest.approx(expected)


def test_settings_equal_to_the_checkpoints_change_nothing():
    optimizer, scheduler, configured = _built(lr=0.003)
    _rates(optimizer, scheduler, 4)
    before = _saved(optimizer, scheduler)
    restore_settings(optimizer, configured, [scheduler])
    after = _saved(optimizer, scheduler)
    assert after["scheduler"] == before["scheduler"]
    assert after["optimizer"]["param_groups"] == before["optimizer"]["param_groups"]

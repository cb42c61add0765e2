"""Trainer values that Lightning rejects only mid-run, or silently accepts, checked up front."""

from typing import Any

from jsonargparse import Namespace

from runforge.runs.directory import RunError


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_trainer_values(trainer: Namespace) -> None:
    """RunError naming the first trainer value that cannot give a sensible run."""
    get = trainer.get
    rules = [
        ("accumulate_grad_batches", lambda v: v is None or v >= 1, ">= 1"),
        ("max_epochs", lambda v: v is None or v == -1 or v >= 1, ">= 1 (or -1: no limit)"),
        ("max_steps", lambda v: v is None or v >= -1, ">= 1 (or -1: no limit)"),
        ("limit_train_batches", lambda v: v is None or v > 0, "> 0 (a fraction or a count)"),
        ("limit_val_batches", lambda v: v is None or v >= 0, ">= 0 (0: no validation)"),
        ("gradient_clip_val", lambda v: v is None or v >= 0, ">= 0 (or null: no clipping)"),
        ("check_val_every_n_epoch", lambda v: v is None or v >= 1, ">= 1 (or null)"),
        ("val_check_interval", lambda v: v is None or v > 0, "> 0"),
        ("log_every_n_steps", lambda v: v is None or v >= 1, ">= 1"),
    ]
    for key, valid, expected in rules:
        value = get(key)
        if _number(value) and not valid(value):
            raise RunError(f"trainer.{key}={value}: must be {expected}")
    interval, limit = get("val_check_interval"), get("limit_train_batches")
    if isinstance(interval, int) and isinstance(limit, int) and interval > limit:
        raise RunError(
            f"trainer.val_check_interval={interval} is beyond the epoch "
            f"(limit_train_batches={limit}): give at most {limit}, or a fraction"
        )
    if get("max_steps") == 0:
        raise RunError("trainer.max_steps=0: must be >= 1 (or -1: no limit)")

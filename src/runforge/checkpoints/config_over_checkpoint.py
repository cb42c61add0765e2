"""The config wins over a checkpoint: what `--ckpt_path` may change and what it may not.

Lightning (since 2.5.5) parses a checkpoint's hyperparameters over the config, which built a
different network or optimizer than the YAML and flags say, and imported the class paths the
checkpoint names. The CLI builds from its config alone; `check_fit` then compares the built
model with the checkpoint without importing anything the checkpoint names.
"""

from collections.abc import Iterator, Mapping
from typing import Any

import torch
from lightning.pytorch import LightningModule
from lightning.pytorch.utilities import rank_zero_warn

from runforge.runs.directory import RunError

_LEAVES = (str, int, float, bool, type(None), list, tuple)
#: How many differing keys and mismatched tensors a message names.
_SHOWN = 2
#: Stands for a key that one side does not have.
_ABSENT = "<absent>"
#: Keys that never change the shape of a tensor (left out of the weights' error).
_NOT_SHAPES = ("model.init_args.optimizer.", "model.init_args.lr_scheduler.")


def _leaves(values: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    """Dotted config keys and their plain values (tuples as lists) of nested hyperparameters."""
    for key, value in values.items():
        if key == "_instantiator":  # Lightning's bookkeeping, not a hyperparameter
            continue
        name = f"{prefix}.class_path" if key == "_class_path" else f"{prefix}.init_args.{key}"
        if isinstance(value, Mapping) and value:
            nested = dict(value)
            if "class_path" in nested:  # a class in the config: class_path + init_args
                yield f"{name}.class_path", nested.pop("class_path")
                nested = {**nested.pop("init_args", {}), **nested}
            yield from _leaves(nested, name)
        elif isinstance(value, _LEAVES):
            yield name, _lists(value)


def _lists(value: Any) -> Any:
    """`value` with tuples as lists, as YAML gives them."""
    return [_lists(v) for v in value] if isinstance(value, (list, tuple)) else value


def differing_hyperparameters(
    checkpoint: Mapping[str, Any], model: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """Config keys (`model.init_args....`) whose value differs: key -> (checkpoint, model).

    A key only one side has is listed with `<absent>` on the other. Values are compared as
    plain data; no class path is imported.
    """
    saved, built = dict(_leaves(checkpoint, "model")), dict(_leaves(model, "model"))
    return {
        key: (saved.get(key, _ABSENT), built.get(key, _ABSENT))
        for key in [*saved, *(k for k in built if k not in saved)]
        if saved.get(key, _ABSENT) != built.get(key, _ABSENT)
    }


def _shape(tensor: torch.Tensor) -> list[int]:
    return list(tensor.shape)


def mismatched_tensors(checkpoint: Mapping[str, torch.Tensor], model: LightningModule) -> list[str]:
    """What keeps `checkpoint` (a state dict) from loading into `model`, one phrase a tensor.

    Shapes always count; missing and unexpected names only when the model loads strictly
    (`strict_loading`). Parameters a lazy module has not sized yet are not compared, nor is
    a model that makes its layers later (in `configure_model`, for sharded training).
    """
    state = model.state_dict()
    if not state:
        return []
    found = [
        f"{name} is {_shape(checkpoint[name])} in the checkpoint, {_shape(tensor)} in the model"
        for name, tensor in state.items()
        if name in checkpoint
        and not isinstance(tensor, torch.nn.parameter.UninitializedParameter)
        and checkpoint[name].shape != tensor.shape
    ]
    if getattr(model, "strict_loading", True):
        for names, where in (
            ([name for name in state if name not in checkpoint], "the checkpoint"),
            ([name for name in checkpoint if name not in state], "the model"),
        ):
            if names:
                others = f" and {len(names) - 1} more are" if len(names) > 1 else " is"
                found.append(f"{names[0]}{others} not in {where}")
    return found


def non_finite_tensors(checkpoint: Mapping[str, torch.Tensor], model: LightningModule) -> list[str]:
    """The model's parameters and buffers that hold NaN or infinite values in `checkpoint`.

    Metric states (a best-so-far starts at -inf) are not weights and are not looked at.
    """
    weights = {name for name, _ in (*model.named_parameters(), *model.named_buffers())}
    return [
        name
        for name, tensor in checkpoint.items()
        if name in weights and tensor.is_floating_point() and not bool(tensor.isfinite().all())
    ]


def _listed(items: list[str]) -> str:
    more = f" (and {len(items) - _SHOWN} more)" if len(items) > _SHOWN else ""
    return "; ".join(items[:_SHOWN]) + more


def check_fit(ckpt_path: str | None, model: LightningModule, max_epochs: int | None = None) -> None:
    """RunError if the checkpoint's weights do not fit `model`; warn where its config differs.

    The error names the first mismatched tensors and the configured keys that differ from the
    checkpoint's; the warning lists every differing key with both values (the config's are
    the ones used). Weights with NaN or infinite values are an error too, and so is a fit
    resumed with a `max_epochs` below the checkpoint's epoch.
    """
    if ckpt_path is None:
        return
    from runforge.checkpoints.checkpoint_file import read_checkpoint

    checkpoint = read_checkpoint(ckpt_path)
    epoch = checkpoint.get("epoch")
    if max_epochs not in (None, -1) and isinstance(epoch, int) and epoch > max_epochs:
        raise RunError(
            f"trainer.max_epochs={max_epochs}: {ckpt_path} is at epoch {epoch} already; give "
            f"--trainer.max_epochs {epoch + 1} or more to train on (or test the checkpoint)"
        )
    broken = non_finite_tensors(checkpoint.get("state_dict", {}), model)
    if broken:
        raise RunError(
            f"--ckpt_path {ckpt_path}: its weights are not finite (NaN/inf in {_listed(broken)}); "
            "give a checkpoint written before the run diverged"
        )
    saved = checkpoint.get("hyper_parameters")  # none: nothing to compare
    differing = differing_hyperparameters(saved, model.hparams) if saved else {}
    mismatched = mismatched_tensors(checkpoint.get("state_dict", {}), model)
    if mismatched:
        keys = [
            f"{k}={was}"
            for k, (was, _) in differing.items()
            if was != _ABSENT and not k.startswith(_NOT_SHAPES)
        ]
        trained = f" (it was trained with {_listed(keys)})" if keys else ""
        raise RunError(
            f"--ckpt_path {ckpt_path}: its weights do not fit the configured model: "
            f"{_listed(mismatched)}{trained}; configure the model the checkpoint was trained "
            "with (its run's config.yaml) or give another checkpoint"
        )
    if differing:
        keys = [f"{k} (checkpoint: {was}, config: {now})" for k, (was, now) in differing.items()]
        rank_zero_warn(
            f"--ckpt_path {ckpt_path}: the config differs from the checkpoint's hyperparameters "
            f"in {len(keys)} key{'s' * (len(keys) > 1)}; the config's values are used: "
            + ", ".join(keys)
        )


class ConfigOverCheckpoint:
    """LightningCLI mixin: build from the config alone, then check `--ckpt_path` against it.

    The config (YAML files and flags) wins: the checkpoint's hyperparameters are not parsed
    into it, so no class path the checkpoint names is imported. Lightning merges them right
    after parsing when the config names a checkpoint file; the checkpoint is held back from
    the config from parsing until the classes are about to be built. Once they are built,
    `check_fit` compares the checkpoint with the model: weights that do not fit are one
    error, differing hyperparameters one warning.
    """

    def parse_arguments(self, parser: Any, args: Any) -> None:
        """Parse, then hold `ckpt_path` back (Lightning finds no checkpoint to merge)."""
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        config = self.config[subcommand] if subcommand else self.config
        self.held_ckpt_path = config.get("ckpt_path")
        if self.held_ckpt_path is not None:
            config.ckpt_path = None

    def before_instantiate_classes(self) -> None:
        """Give the config its `ckpt_path` back."""
        subcommand = self.config.get("subcommand")
        if self.held_ckpt_path is not None:
            self.config[subcommand].ckpt_path = self.held_ckpt_path
        super().before_instantiate_classes()

    def after_instantiate_classes(self) -> None:
        """Check the subcommand's checkpoint against the model built from the config."""
        fitting = self.subcommand == "fit"
        check_fit(
            self._get(self.config_init, "ckpt_path"),
            self.model,
            self.trainer.max_epochs if fitting else None,
        )

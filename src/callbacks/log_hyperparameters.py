"""Log the optimizer and scheduler settings and the whole resolved config to every logger."""

from collections.abc import Mapping
from typing import Any

import yaml
from jsonargparse import ArgumentParser, Namespace
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_only, rank_zero_warn

from callbacks.save_run_config import dump_run_config

#: The config entries summarised as `optimizer/...` and `lr_scheduler/...`.
OPTIM_KEYS = ("optimizer", "lr_scheduler")


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            _flatten(f"{prefix}/{key}", item, out)
    else:
        out[prefix] = value


def _describe(prefix: str, value: Any) -> dict[str, Any]:
    """`<prefix>/class` (short class name or None) plus each of its arguments."""
    out: dict[str, Any] = {}
    if isinstance(value, Mapping) and "class_path" in value:
        out[f"{prefix}/class"] = str(value["class_path"]).rpartition(".")[2]
        for key, item in (value.get("init_args") or {}).items():
            _flatten(f"{prefix}/{key}", item, out)
    elif isinstance(value, str):
        out[f"{prefix}/class"] = value.rpartition(".")[2]
    else:
        out[f"{prefix}/class"] = value
    return out


def optim_hyperparameters(config: Mapping[str, Any]) -> dict[str, Any]:
    """Flat, readable optimizer and scheduler settings from a resolved config (as a dict).

    For example `optimizer/class: AdamW`, `optimizer/lr: 0.003`, `lr_scheduler/class:
    CosineAnnealingLR`, `lr_scheduler/T_max: 20`, `lr_scheduler/interval: epoch`;
    `lr_scheduler/class` is None when no scheduler is set. The settings are looked up
    in the model's arguments first, then at the top level of the config.
    """
    model = config.get("model") or {}
    model_args = model.get("init_args", model) if isinstance(model, Mapping) else {}
    model_args = model_args or {}
    out: dict[str, Any] = {}
    for key in OPTIM_KEYS:
        if key in model_args:
            out.update(_describe(key, model_args[key]))
        elif key in config:
            out.update(_describe(key, config[key]))
        for name, value in model_args.items():
            if name.startswith(f"{key}_"):
                _flatten(f"{key}/{name[len(key) + 1 :]}", value, out)
    return out


def run_hyperparameters(parser: ArgumentParser, config: Namespace) -> dict[str, Any]:
    """What is logged: the optimizer/scheduler summary plus the whole config under `config`.

    `ckpt_path` is left out, as in `config.yaml`. Nothing comes from the environment: the
    CLI does not read environment variables, so API keys never reach the hyperparameters.
    """
    resolved = yaml.safe_load(dump_run_config(parser, config))
    resolved.pop("ckpt_path", None)
    return {**optim_hyperparameters(resolved), "config": resolved}


class LogHyperparameters(Callback):
    """Send the optimizer/scheduler settings and the resolved config to every logger.

    Uses each logger's own `log_hyperparams`: TensorBoard hparams (and `hparams.yaml`),
    CSV `hparams.yaml`, the W&B run config, MLflow params. Logged when fitting starts,
    also on resume; a logger that refuses changed values (MLflow keeps a run's first
    params) keeps the values it has, with a warning.

    Args:
        parser: The subcommand's parser, used to dump the config.
        config: The subcommand's resolved config.
    """

    def __init__(self, parser: ArgumentParser, config: Namespace) -> None:
        self.parser = parser
        self.config = config

    @rank_zero_only
    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Log before Lightning's own hyperparameter logging (TensorBoard keeps the first)."""
        if not trainer.loggers:
            return
        params = run_hyperparameters(self.parser, self.config)
        for logger in trainer.loggers:
            try:
                logger.log_hyperparams(params)
                logger.save()
            except Exception as error:  # noqa: BLE001 - a logger's refusal must not stop training
                rank_zero_warn(
                    f"{type(logger).__name__} did not take the updated hyperparameters and "
                    f"keeps the ones it has: {str(error).splitlines()[0][:300]}"
                )

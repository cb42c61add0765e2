"""Run one trial: a `fit` through the template's CLI, in its own run directory."""

import contextlib
import json
from typing import Any

import optuna
from lightning.pytorch.callbacks import ModelSummary
from optuna_integration import PyTorchLightningPruningCallback

from runforge.cli.launch import (
    build_cli,
    built_classes,
    quiet_start_up,
    resolved_config,
    validation_keys,
)
from runforge.errors import ConfigError
from runforge.many.sweeps.space import Sweep, corner_values


def fit_args(sweep: Sweep, values: dict[str, Any], version: str | None = None) -> list[str]:
    """The `fit` arguments (without the subcommand) of a trial with these values."""
    args = [arg for config in sweep.configs for arg in ("-c", config)]
    for key, value in {**sweep.overrides, **values}.items():
        args.append(f"--{key}={json.dumps(value)}")
    args += ["--run.root", sweep.root, "--run.name", sweep.name]
    if version is not None:
        args += ["--run.version", version]
    return args


#: What `_value` returns for a key that the config does not have.
MISSING = object()


def _value(config: dict, key: str) -> Any:
    """The value of `key` in `config` (the `init_args` steps may be left out), or MISSING."""
    node: Any = config
    for part in key.split("."):
        if isinstance(node, dict) and part not in node and "init_args" in node:
            node = node["init_args"]
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def _where(sweep: Sweep) -> str:
    return f"the configs {' '.join(sweep.configs)} with the sweep's overrides"


def check_keys(sweep: Sweep) -> dict[str, Any]:
    """Check, before any trial, that the configs parse and have every searched key.

    Returns the configs' own value of every searched key.
    """
    try:
        config = resolved_config(fit_args(sweep, {}))
    except ConfigError as error:
        raise ConfigError(f"{_where(sweep)} do not parse: {error}") from None
    values = {key: _value(config, key) for key in sweep.params}
    for key, value in values.items():
        if value is MISSING:
            raise ConfigError(
                f"params.{key}: no such key in {_where(sweep)}; name it as `fit --print_config` "
                "shows it, e.g. model.init_args.optimizer.init_args.lr"
            )
    return values


def _refusal(sweep: Sweep, values: dict[str, Any]) -> str | None:
    """Why the configs refuse these values (None: their data module and model build)."""
    try:
        built_classes(fit_args(sweep, values))
    except ConfigError as error:
        return str(error)
    return None


def _refused(sweep: Sweep, values: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The values the configs refuse (one key's alone where that is enough), and why."""
    reason = _refusal(sweep, values)
    if reason is None or len(values) == 1:
        return None if reason is None else (values, reason)
    for key, value in values.items():
        alone = _refusal(sweep, {key: value})
        if alone is not None:
            return {key: value}, alone
    return values, reason


def check_corners(sweep: Sweep) -> None:
    """Build the data module and model with every bound and choice of the space, before any trial.

    Nothing is trained or written; a value a class refuses is a ConfigError naming it.
    """
    for corner in corner_values(sweep):
        refused = _refused(sweep, corner)
        if refused is not None:
            values, reason = refused
            raise ConfigError(
                f"params: the values {values} are refused: {reason}; keep the space to "
                "values the configs take"
            )


def check_monitor(sweep: Sweep) -> None:
    """Check that one validation batch of the configs logs `monitor` (nothing is written)."""
    try:
        logged = validation_keys(fit_args(sweep, {}))
    except ConfigError as error:
        raise ConfigError(f"{_where(sweep)} do not build: {error}") from None
    if sweep.monitor not in logged:
        raise ConfigError(
            f"monitor {sweep.monitor!r} is not logged by a validation step of {_where(sweep)} "
            f"(logged: {', '.join(logged) or 'nothing'}); set `monitor` to one of them"
        )


def _no_summary(*args: Any, **kwargs: Any) -> None:
    """Print nothing (in place of a model summary)."""


def hush_summaries(callbacks: list[Any]) -> None:
    """Keep the model summary callbacks from printing; they stay in the trainer and the config."""
    for callback in callbacks:
        if isinstance(callback, ModelSummary):
            callback.summarize = _no_summary


class TrialPruning(PyTorchLightningPruningCallback):
    """Optuna's pruning callback that also keeps the monitored values and logs the params.

    Added by the sweep driver (it needs the live trial), so it is not in the trial's
    `config.yaml`: `fit -c <trial>/config.yaml` trains the same run without pruning.
    """

    def __init__(self, trial: optuna.Trial, monitor: str, params: dict[str, Any]) -> None:
        """`params`: the trial's values by their short names, logged as `sweep/<name>`."""
        super().__init__(trial, monitor)
        self.params = params
        self.values: list[float] = []

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        """Log the trial number and sampled params to every configured logger."""
        super().on_fit_start(trainer, pl_module)
        record = {
            "sweep/trial": self._trial.number,
            **{f"sweep/{k}": v for k, v in self.params.items()},
        }
        for logger in trainer.loggers:
            logger.log_hyperparams(
                {k: json.dumps(v) if isinstance(v, list) else v for k, v in record.items()}
            )

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        """Keep the epoch's monitored value, report it and prune if the pruner says so."""
        value = trainer.callback_metrics.get(self.monitor)
        if not trainer.sanity_checking and value is not None:
            self.values.append(float(value))
        super().on_validation_end(trainer, pl_module)


def fit_trial(
    args: list[str], callback: TrialPruning, direction: str, quiet: bool = False
) -> float:
    """Fit with the CLI plus `callback`; return the best monitored value.

    `quiet`: no start-up lines (device banner, seed, model summary) nor Lightning's notes;
    the progress lines, warnings and errors stay. Raises `optuna.TrialPruned` when pruned;
    any failure of the fit propagates.
    """
    with quiet_start_up() if quiet else contextlib.nullcontext():
        try:
            cli = build_cli(args, run=False)
        except SystemExit as done:  # the parser rejected the arguments (message printed)
            raise RuntimeError(f"the trial's config was refused (exit code {done.code})") from None
        cli.trainer.callbacks.insert(0, callback)  # its params reach the loggers with the config
        if quiet:
            hush_summaries(cli.trainer.callbacks)
        with cli.lock.released_after():
            cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    if not callback.values:
        logged = ", ".join(sorted(cli.trainer.callback_metrics)) or "none"
        raise ConfigError(f"monitor {callback.monitor!r} was never logged (logged: {logged})")
    pick = max if direction == "maximize" else min
    return pick(callback.values)

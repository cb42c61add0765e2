"""What a sweep file holds: base configs, search space, objective, budget, sampler and pruner."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import optuna

from runforge.errors import ConfigError
from runforge.runs.directory import check_folder_name


@dataclass
class Param:
    """One searched config key.

    Args:
        type: `float` or `int` (a range from `low` to `high`, inclusive) or `categorical`
            (one of `choices`).
        low: Smallest value of a range.
        high: Largest value of a range.
        log: Sample a range on a log scale (needs `low > 0`).
        step: Grid step of a range (none: continuous floats, every int).
        choices: The values of a categorical key: numbers, strings, booleans, null or lists.
    """

    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] | None = None


@dataclass
class Sweep:
    """A hyperparameter search: each trial is a `fit` of `configs` with sampled `params`.

    Args:
        name: The sweep's folder `<root>/<name>/` (a plain folder name): trial runs, study
            database and results. The study of that name keeps its direction, monitor
            and params; a sweep with others needs another name.
        configs: The `-c` files of `fit` every trial starts from (default.yaml comes first).
        params: The search space: a config key as `fit` takes it on the command line
            (e.g. `model.init_args.optimizer.init_args.lr`) -> its range or choices.
        monitor: The metric to optimise, logged in validation; a trial's value is its best
            over validation epochs.
        direction: `maximize` or `minimize` the monitored metric.
        n_trials: Trials of the study in total, over every worker and restart (a trial
            whose worker was killed does not count and is replaced).
        overrides: Config keys set for every trial (e.g. fewer `trainer.max_epochs`).
        root: The folder that holds experiments (`run.root` of the trials).
        storage: An Optuna storage URL shared by the workers (`postgresql://...`,
            `sqlite:///...`, or `journal:<file>` for a journal file on a shared filesystem);
            none: `<root>/<name>/study.db` (SQLite).
        heartbeat_s: Seconds between a running trial's heartbeats in a database storage; a
            trial silent for 4 of them is taken as lost with its worker and retried.
        seed: Seed of the default sampler (trial k draws with seed + k, so workers sharing
            the study draw different values and a sweep repeats).
        sampler: An Optuna sampler (`class_path` + `init_args`); none: TPE seeded by `seed`.
            A seeded sampler of your own draws the same values in every worker: give it no
            seed when several workers share the study.
        pruner: An Optuna pruner, fed the monitored metric after every validation (e.g.
            `optuna.pruners.MedianPruner`, `optuna.pruners.SuccessiveHalvingPruner`);
            none: no pruning.
        baseline: Trial 0 trains the configs' own values of the params (when they lie in
            the space), so the best trial is never worse than the recipe the sweep started
            from.
    """

    name: str
    configs: list[str]
    params: dict[str, Param]
    monitor: str = "val/acc"
    direction: Literal["maximize", "minimize"] = "maximize"
    n_trials: int = 20
    overrides: dict[str, Any] = field(default_factory=dict)
    root: str = "logs"
    storage: str | None = None
    heartbeat_s: int = 60
    seed: int = 0
    sampler: optuna.samplers.BaseSampler | None = None
    pruner: optuna.pruners.BasePruner | None = None
    baseline: bool = True

    @property
    def folder(self) -> Path:
        """The sweep's folder: `<root>/<name>/`."""
        return Path(self.root, self.name)


def short_names(keys: list[str]) -> dict[str, str]:
    """A short, unique name per config key: its shortest ending without `init_args`.

    `model.init_args.optimizer.init_args.lr` is `lr` unless another key also ends in `lr`
    (then `optimizer.lr`, ...). Optuna, `trials.csv`, the plots and the loggers use these.
    """
    parts = {key: [p for p in key.split(".") if p != "init_args"] for key in keys}
    names = {}
    for key, path in parts.items():
        for length in range(1, len(path) + 1):
            name = ".".join(path[-length:])
            others = (".".join(p[-length:]) for k, p in parts.items() if k != key)
            if name not in others:
                break
        names[key] = name
    return names


def _label(choice: Any) -> Any:
    """How Optuna stores a choice: scalars as they are, anything else as JSON text."""
    if choice is None or isinstance(choice, bool | int | float | str):
        return choice
    return json.dumps(choice)


def check_space(sweep: Sweep) -> None:
    """Raise a ConfigError naming the first bad entry: name, budget or search space."""
    check_folder_name("name", sweep.name)  # the sweep's folder, like a run's name
    if sweep.n_trials < 1:
        raise ConfigError(f"n_trials must be >= 1, got {sweep.n_trials}")
    if sweep.heartbeat_s < 1:
        raise ConfigError(f"heartbeat_s must be >= 1 second, got {sweep.heartbeat_s}")
    if not sweep.params:
        raise ConfigError("params: the search space is empty; name at least one config key")
    for key, p in sweep.params.items():
        where = f"params.{key}"
        if p.type == "categorical":
            if not p.choices:
                raise ConfigError(f"{where}: a categorical key needs a non-empty `choices` list")
            labels = [_label(c) for c in p.choices]
            if len(set(map(repr, labels))) != len(labels):
                raise ConfigError(f"{where}: `choices` repeats a value: {p.choices}")
            continue
        if p.choices is not None:
            raise ConfigError(
                f"{where}: `choices` is for categorical keys; {p.type} takes low/high"
            )
        if p.low is None or p.high is None or not p.low < p.high:
            raise ConfigError(f"{where}: a {p.type} range needs low < high, got {p.low}..{p.high}")
        if p.log and (p.low <= 0 or p.step is not None):
            raise ConfigError(f"{where}: a log scale needs low > 0 and no step")
        if p.type == "int" and not all(float(v).is_integer() for v in (p.low, p.high, p.step or 1)):
            raise ConfigError(f"{where}: an int range needs whole numbers, got {p.low}..{p.high}")


def suggest(trial: optuna.Trial, name: str, p: Param) -> Any:
    """Sample the value of one config key (Optuna's param `name`) for `trial`."""
    if p.type == "float":
        return trial.suggest_float(name, p.low, p.high, log=p.log, step=p.step)
    if p.type == "int":
        return trial.suggest_int(name, int(p.low), int(p.high), log=p.log, step=int(p.step or 1))
    labels = [_label(c) for c in p.choices]
    return p.choices[labels.index(trial.suggest_categorical(name, labels))]


def _contains(p: Param, value: Any) -> bool:
    """Whether `value` is one of the choices, or a number in the range (on its grid)."""
    if p.type == "categorical":
        return _label(value) in [_label(c) for c in p.choices]
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    steps = (value - p.low) / p.step if p.step else 0
    in_range = p.low <= value <= p.high and abs(steps - round(steps)) < 1e-9
    return in_range and (p.type == "float" or float(value).is_integer())


def baseline_params(sweep: Sweep, values: dict[str, Any]) -> dict[str, Any] | None:
    """Optuna's params (short name -> value) of the configs' own values of the searched keys.

    None when one of them lies outside the space.
    """
    if not all(_contains(sweep.params[key], value) for key, value in values.items()):
        return None
    names = short_names(list(sweep.params))
    return {names[key]: _label(value) for key, value in values.items()}


def corner_values(sweep: Sweep) -> list[dict[str, Any]]:
    """Value sets that together use every bound and every choice of the space once."""
    count = max(2, *(len(p.choices or ()) for p in sweep.params.values()))
    corners = []
    for i in range(count):
        values = {}
        for key, p in sweep.params.items():
            if p.type == "categorical":
                values[key] = p.choices[i % len(p.choices)]
            else:
                bound = p.low if i % 2 == 0 else p.high
                values[key] = int(bound) if p.type == "int" else float(bound)
        corners.append(values)
    return corners

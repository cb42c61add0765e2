"""A sweep's results in its folder: trials.csv, best.yaml and the plots."""

import csv
import json
import os
from pathlib import Path

import optuna
import yaml
from optuna.trial import TrialState

from runforge.many.sweeps.study import OBJECTIVE, retried
from runforge.runs.directory import CONFIG_NAME

RUN_DIR = "run_dir"
#: Written into each trial's run directory: the trial's number, state, value, the sweep's
#: monitor and direction, the best value reported (also before a pruning) and the params.
TRIAL_RECORD = "sweep_trial.json"
PLOTS = {
    "optimization_history.png": "plot_optimization_history",
    "param_importances.png": "plot_param_importances",
    "parallel_coordinate.png": "plot_parallel_coordinate",
}


def _replace(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (several workers may write the results)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def _state(trial: optuna.trial.FrozenTrial, gone: set[int]) -> str:
    """The trial's state; `interrupted` for a failed trial retried after its worker died."""
    return "interrupted" if trial.number in gone else trial.state.name.lower()


def _best(trial: optuna.trial.FrozenTrial, direction: str) -> float | None:
    """The trial's value, or the best it reported before it was pruned or failed (None: none)."""
    if trial.value is not None:
        return trial.value
    reported = list(trial.intermediate_values.values())
    pick = max if direction == "maximize" else min
    return pick(reported) if reported else None


def record_trial(study: optuna.Study, number: int) -> None:
    """Write the finished trial's record into its run directory (if the run got that far)."""
    trial = study.get_trials(deepcopy=False)[number]
    run_dir = Path(trial.user_attrs[RUN_DIR])
    objective = study.user_attrs.get(OBJECTIVE) or {}
    direction = objective.get("direction", study.direction.name.lower())
    if run_dir.is_dir():
        record = {
            "study": study.study_name,
            "number": number,
            "state": _state(trial, retried(study)),
            "value": trial.value,
            "monitor": objective.get("monitor"),
            "direction": direction,
            "best": _best(trial, direction),
            "params": trial.params,
        }
        _replace(run_dir / TRIAL_RECORD, json.dumps(record, indent=2) + "\n")


def write_trials_csv(study: optuna.Study, path: Path) -> None:
    """One row per trial: number, state, value, duration, run directory, then each param."""
    trials = study.get_trials(deepcopy=False)
    keys = sorted({key for t in trials for key in t.params})
    rows = [["number", "state", "value", "duration_s", RUN_DIR, *keys]]
    gone = retried(study)
    for t in trials:
        state = _state(t, gone)
        duration = f"{t.duration.total_seconds():.1f}" if t.duration else ""
        value = "" if t.value is None else t.value
        params = [t.params.get(key, "") for key in keys]
        rows.append([t.number, state, value, duration, t.user_attrs.get(RUN_DIR, ""), *params])
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("w", newline="") as file:
        csv.writer(file).writerows(rows)
    os.replace(temporary, path)


def write_best_config(study: optuna.Study, path: Path) -> optuna.trial.FrozenTrial | None:
    """Save the best trial's `config.yaml` as a new run of `<name>-best` (None: none completed)."""
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    best = study.best_trial
    config = yaml.safe_load(Path(best.user_attrs[RUN_DIR], CONFIG_NAME).read_text())
    config["run"]["name"] = f"{study.study_name}-best"
    config["run"]["version"] = None
    header = f"# Best trial {best.number} of sweep {study.study_name}: value {best.value}\n"
    _replace(path, header + yaml.safe_dump(config, sort_keys=False))
    return best


def write_plots(study: optuna.Study, folder: Path) -> list[str]:
    """Draw the sweep's plots into `folder`; return a note for each plot that was skipped."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as plots

    skipped = []
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    for name, function in PLOTS.items():
        needed = 2 if name == "param_importances.png" else 1
        if len(complete) < needed:
            skipped.append(f"{name}: needs {needed} completed trial(s), have {len(complete)}")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                axes = getattr(plots, function)(study)
            except (ValueError, RuntimeError) as error:  # e.g. every trial had the same params
                skipped.append(f"{name}: {error}")
                continue
        figure = getattr(axes, "figure", None) or axes.flat[0].figure
        figure.set_size_inches(9, 5.5)
        figure.savefig(folder / name, dpi=110, bbox_inches="tight")
        plt.close(figure)
    return skipped

"""Hyperparameter sweep with Optuna: every trial is a normal run directory.

python src/sweep.py -c configs/sweep/digits_simplenet.yaml [--n_trials N] [--storage URL]

Start the same command on several machines with one `--storage` to run workers in
parallel; start it again to continue an interrupted sweep.
"""

import sys
import time
import traceback
import warnings
from dataclasses import fields

import optuna
from jsonargparse import ActionConfigFile, ArgumentParser
from optuna.storages import BaseStorage
from optuna.trial import TrialState

from runforge.errors import ConfigError
from runforge.many.sweeps.results import (
    RUN_DIR,
    record_trial,
    write_best_config,
    write_plots,
    write_trials_csv,
)
from runforge.many.sweeps.space import Sweep, baseline_params, check_space, short_names, suggest
from runforge.many.sweeps.study import (
    claim_trial,
    counted,
    heartbeat,
    interrupt,
    open_storage,
    open_study,
)
from runforge.many.sweeps.trial import (
    TrialPruning,
    check_corners,
    check_keys,
    check_monitor,
    fit_args,
    fit_trial,
)


def parse(args: list[str] | None = None) -> Sweep:
    """Read the sweep file(s) and flags into a `Sweep` (jsonargparse checks the types)."""
    parser = ArgumentParser(
        prog="sweep.py", description=Sweep.__doc__.splitlines()[0], default_env=False
    )
    parser.add_argument("-c", "--config", action=ActionConfigFile, help="A sweep YAML file.")
    parser.add_class_arguments(Sweep, None)
    config = parser.instantiate(parser.parse_args(args))
    return Sweep(**{f.name: config[f.name] for f in fields(Sweep)})


def tell(study: optuna.Study, trial: optuna.Trial, **result: object) -> bool:
    """Report a finished trial; False once the sampler has nothing left to try.

    A grid or brute-force sampler that has tried everything calls `study.stop()`, which
    Optuna allows only inside `study.optimize`; the result is stored all the same.
    """
    try:
        study.tell(trial, **result)
    except RuntimeError as error:
        if "Study.stop" not in str(error):
            raise
        return False
    return True


def run_trial(
    sweep: Sweep,
    study: optuna.Study,
    storage: BaseStorage,
    trial: optuna.Trial,
    quiet: bool = False,
) -> bool:
    """Sample, fit and report one trial (a failed or pruned one does not stop the sweep).

    `quiet`: leave out the start-up lines (the worker's first trial printed them). Returns
    False when the sampler has nothing left to try.
    """
    if sweep.sampler is None:  # seeded per trial: workers sharing a study draw different values
        study.sampler = optuna.samplers.TPESampler(seed=sweep.seed + trial.number)
    names = short_names(list(sweep.params))
    values = {key: suggest(trial, names[key], p) for key, p in sweep.params.items()}
    version = f"trial-{trial.number:04d}"
    trial.set_user_attr(RUN_DIR, str(sweep.folder / version))
    callback = TrialPruning(trial, sweep.monitor, {names[k]: v for k, v in values.items()})
    started = time.monotonic()
    try:
        with heartbeat(storage, trial):
            value = fit_trial(fit_args(sweep, values, version), callback, sweep.direction, quiet)
    except optuna.TrialPruned:
        result, outcome = (
            {"state": TrialState.PRUNED},
            f"pruned after {len(callback.values)} epoch(s)",
        )
    except Exception:  # a failed trial is recorded and the sweep goes on
        traceback.print_exc()
        result, outcome = {"state": TrialState.FAIL}, "failed (traceback above)"
    except BaseException as stop:  # SIGTERM or Ctrl-C: the sweep stops, the trial is replaced
        interrupt(study, trial.number)
        record_trial(study, trial.number)
        print(f"Trial {trial.number}: interrupted; it is run again when the sweep resumes")
        if isinstance(stop, SystemExit) and not stop.code:  # Lightning's SIGTERM exit is 0
            raise SystemExit(1) from stop
        raise
    else:
        result, outcome = {"values": value}, f"{sweep.monitor} = {value:.4f}"
    go_on = tell(study, trial, **result)
    record_trial(study, trial.number)
    shown = ", ".join(
        f"{names[k]}={v:.4g}" if isinstance(v, float) else f"{names[k]}={v}"
        for k, v in values.items()
    )
    print(f"Trial {trial.number}: {outcome} in {time.monotonic() - started:.0f} s: {shown}")
    return go_on


def all_failed(study: optuna.Study) -> bool:
    """Whether the study has trials and every one that counts failed."""
    trials = counted(study)
    return bool(trials) and all(t.state == TrialState.FAIL for t in trials)


def write_tables(study: optuna.Study, sweep: Sweep) -> optuna.trial.FrozenTrial | None:
    """Write `trials.csv` and `best.yaml` into the sweep's folder; return the best trial."""
    sweep.folder.mkdir(parents=True, exist_ok=True)
    write_trials_csv(study, sweep.folder / "trials.csv")
    return write_best_config(study, sweep.folder / "best.yaml")


def main(args: list[str] | None = None) -> None:
    """Run trials until the study holds `n_trials`, then write the results."""
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    try:
        sweep = parse(args)
        check_space(sweep)
        recipe = check_keys(sweep)
        check_corners(sweep)
        check_monitor(sweep)
        storage = open_storage(sweep)
        study = open_study(sweep, storage)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    first = baseline_params(sweep, recipe) if sweep.baseline else None
    if sweep.baseline and first is None:
        names = short_names(list(recipe))
        own = ", ".join(f"{names[key]}={value}" for key, value in recipe.items())
        print(f"No baseline trial: the configs' own values ({own}) are not all in the space")
    ran = 0
    while (trial := claim_trial(study, storage, sweep.n_trials, first)) is not None:
        go_on = run_trial(sweep, study, storage, trial, quiet=ran > 0)
        ran += 1
        write_tables(study, sweep)  # up to date while the sweep runs
        if not go_on:
            break
    best = write_tables(study, sweep)
    for note in write_plots(study, sweep.folder):
        print(f"Plot skipped: {note}")
    states = [t.state.name.lower() for t in study.get_trials(deepcopy=False)]
    summary = ", ".join(f"{states.count(s)} {s}" for s in dict.fromkeys(states))
    print(f"Sweep {sweep.name}: {summary}; results in {sweep.folder}")
    if best is not None:
        print(f"Best: trial {best.number}, {sweep.monitor} = {best.value:.4f}, {best.params}")
        print(f"Train it again: python src/main.py fit -c {sweep.folder / 'best.yaml'}")
    if all_failed(study):
        print(
            f"error: every trial of sweep {sweep.name} failed (tracebacks above); fix the "
            "cause, then run the sweep under another `name`",
            file=sys.stderr,
        )
        sys.exit(1)

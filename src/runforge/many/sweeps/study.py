"""The study shared by a sweep's workers: storage, a mutex, claiming trials, dead workers.

A trial whose worker died is failed and retried with the same params (Optuna's
`RetryHeartbeatStaleTrialCallback`), at most `MAX_RETRY` times; the failed one does not
count towards `n_trials`. A dead worker is noticed by the next worker that claims a trial:
at once when it ran on the same machine (its process is gone), otherwise when its trial's
heartbeat (database storages) has been silent for 4 heartbeat periods.
"""

import json
import os
import random
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from runforge.errors import ConfigError
from runforge.many.sweeps.space import Sweep

#: User attribute of a trial: the worker running it (host and pid).
WORKER = "worker"
#: User attribute of the study: its direction, monitor and search space (`objective`).
OBJECTIVE = "sweep"
#: Retries of a trial whose worker died (a trial that kills its worker is not retried forever).
MAX_RETRY = 2
with warnings.catch_warnings():  # experimental in name only since Optuna 2.8
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    RETRY = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
#: A mutex older than this is taken to be left by a killed worker and is broken.
STALE_LOCK_S = 60.0


def open_storage(sweep: Sweep) -> BaseStorage:
    """The sweep's storage: its URL, a `journal:<file>`, or `<root>/<name>/study.db`."""
    url = sweep.storage
    if url is None:
        sweep.folder.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{(sweep.folder / 'study.db').resolve()}"
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url.removeprefix("journal:")))
    return _connect(url, sweep.heartbeat_s)


def _connect(url: str, heartbeat_s: int, attempts: int = 5) -> BaseStorage:
    """Open a database storage; workers starting together may race to create its tables."""
    from sqlalchemy.exc import SQLAlchemyError

    for _ in range(attempts - 1):
        try:
            return _rdb(url, heartbeat_s)
        except SQLAlchemyError:
            time.sleep(0.5 + random.random())
    try:
        return _rdb(url, heartbeat_s)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise ConfigError(f"storage {url!r} cannot be opened: {reason}") from error


def objective(sweep: Sweep) -> dict[str, Any]:
    """What a study is tied to: the direction, the monitor and the search space, as JSON."""
    params = {
        key: {k: v for k, v in asdict(p).items() if v is not None and v is not False}
        for key, p in sweep.params.items()
    }
    tied = {"direction": sweep.direction, "monitor": sweep.monitor, "params": params}
    return json.loads(json.dumps(tied))  # as the storage gives it back


def _differences(recorded: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    """Each entry of the objective that differs: `key: <study's> in the study, <ours> here`."""
    pairs = [(key, recorded.get(key), ours[key]) for key in ("direction", "monitor")]
    old, new = recorded.get("params") or {}, ours["params"]
    pairs += [(f"params.{k}", old.get(k), new.get(k)) for k in sorted({*old, *new})]
    absent = "absent"
    return [
        f"{key}: {absent if a is None else repr(a)} in the study, "
        f"{absent if b is None else repr(b)} here"
        for key, a, b in pairs
        if a != b
    ]


def tie_study(study: optuna.Study, sweep: Sweep) -> None:
    """Record the sweep's objective in a new study; a ConfigError if the study has another.

    A study made before studies recorded theirs is checked on its direction, then tied.
    """
    ours = objective(sweep)
    recorded = study.user_attrs.get(OBJECTIVE)
    if recorded is None:
        recorded = {**ours, "direction": study.direction.name.lower()}
    differences = _differences(recorded, ours)
    if differences:
        raise ConfigError(
            f"name {sweep.name!r}: the study of that name was made for another objective or "
            f"search space ({'; '.join(differences)}); a study keeps its own, so give this "
            f"sweep another `name` (e.g. --name {sweep.name}-2)"
        )
    if OBJECTIVE not in study.user_attrs:
        study.set_user_attr(OBJECTIVE, ours)


def open_study(sweep: Sweep, storage: BaseStorage) -> optuna.Study:
    """Create the study or load it (the same command starts or continues a sweep).

    Under the study's mutex, so the first of several workers starting together ties the
    study to its objective and the others are checked against it (`tie_study`).
    """
    sampler = sweep.sampler or optuna.samplers.TPESampler(seed=sweep.seed)
    pruner = sweep.pruner or optuna.pruners.NopPruner()
    with study_lock(storage, sweep.name):
        try:
            study = optuna.load_study(
                study_name=sweep.name, storage=storage, sampler=sampler, pruner=pruner
            )
        except KeyError:  # a new sweep
            study = optuna.create_study(
                storage=storage,
                study_name=sweep.name,
                direction=sweep.direction,
                sampler=sampler,
                pruner=pruner,
            )
        tie_study(study, sweep)
    return study


def _rdb(url: str, heartbeat_s: int) -> BaseStorage:
    return optuna.storages.RDBStorage(
        url,
        heartbeat_interval=heartbeat_s,
        grace_period=4 * heartbeat_s,
        heartbeat_stale_trial_callback=RETRY,
    )


@contextmanager
def heartbeat(storage: BaseStorage, trial: optuna.Trial) -> Iterator[None]:
    """Record the trial's heartbeat in the storage while it runs (database storages)."""
    interval = getattr(storage, "get_heartbeat_interval", lambda: None)()
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            storage.record_heartbeat(trial._trial_id)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name="sweep-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextmanager
def study_lock(storage: BaseStorage, name: str) -> Iterator[None]:
    """Hold a mutex shared by every worker of study `name` (works on any Optuna storage).

    The mutex is a study named `<name>.lock`: creating a study is atomic in every storage.
    """
    lock = f"{name}.lock"
    waited = time.monotonic()
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "new study created" per trial
    while True:
        try:
            storage.create_new_study([StudyDirection.MINIMIZE], lock)
            break
        except optuna.exceptions.DuplicatedStudyError:
            if time.monotonic() - waited > STALE_LOCK_S:  # its holder was killed
                _delete_study(storage, lock)
            time.sleep(0.02 + random.random() * 0.05)
    optuna.logging.set_verbosity(verbosity)
    try:
        yield
    finally:
        _delete_study(storage, lock)


def _delete_study(storage: BaseStorage, name: str) -> None:
    try:
        storage.delete_study(storage.get_study_id_from_name(name))
    except KeyError:  # another worker removed it first
        pass


def _dead(trial: FrozenTrial) -> bool:
    """Whether a running trial's worker ran on this machine and no longer exists."""
    worker = trial.user_attrs.get(WORKER) or {}
    if worker.get("host") != socket.gethostname() or "pid" not in worker:
        return False
    try:
        os.kill(worker["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def interrupt(study: optuna.Study, number: int) -> None:
    """Fail a trial whose worker stopped or died and queue a retry of its params."""
    study.tell(number, state=TrialState.FAIL)
    RETRY(study, study.get_trials(deepcopy=False)[number])


def fail_dead_trials(study: optuna.Study) -> list[int]:
    """Fail and retry the running trials whose worker on this machine died."""
    dead = [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))]
    dead = [n for n in dead if _dead(study.get_trials(deepcopy=False)[n])]
    for number in dead:
        interrupt(study, number)
    return dead


def retried(study: optuna.Study) -> set[int]:
    """The numbers of the failed trials that were retried (their workers died)."""
    trials = study.get_trials(deepcopy=False)
    return {number for t in trials for number in RETRY.retry_history(t)}


def counted(study: optuna.Study) -> list[FrozenTrial]:
    """The trials that count towards `n_trials`: all but those retried after their worker died."""
    gone = retried(study)
    return [t for t in study.get_trials(deepcopy=False) if t.number not in gone]


def claim_trial(
    study: optuna.Study, storage: BaseStorage, n_trials: int, first: dict | None = None
) -> optuna.Trial | None:
    """Start the next trial of the study, or None once `n_trials` are started or done.

    Under the study's mutex, so two workers never overshoot `n_trials`. `first`: the params
    of the study's first trial (Optuna's names), if it has none yet.
    """
    with study_lock(storage, study.study_name):
        optuna.storages.fail_stale_trials(study)  # silent heartbeats (another machine)
        for number in fail_dead_trials(study):
            print(f"Trial {number}: its worker was killed; marked failed and retried")
        if len(counted(study)) >= n_trials:
            return None
        if first is not None and not study.get_trials(deepcopy=False):
            study.enqueue_trial(first)
        with warnings.catch_warnings():  # Optuna expects Study.optimize to keep the heartbeat;
            warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed")
            trial = study.ask()  # `heartbeat()` keeps it for a claimed trial
        trial.set_user_attr(WORKER, {"host": socket.gethostname(), "pid": os.getpid()})
        return trial

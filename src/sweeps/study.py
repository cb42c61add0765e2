"""The study shared by a sweep's workers: storage, a mutex, claiming trials, dead workers."""

import os
import random
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import optuna
from optuna.storages import BaseStorage
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from sweeps.space import Sweep
from utils.errors import ConfigError

#: User attributes of a trial: the worker running it, and a mark on a trial whose worker died.
WORKER = "worker"
INTERRUPTED = "interrupted"
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
    return _connect(url)


def _connect(url: str, attempts: int = 5) -> BaseStorage:
    """Open a database storage; workers starting together may race to create its tables."""
    from sqlalchemy.exc import SQLAlchemyError

    for _ in range(attempts - 1):
        try:
            return optuna.storages.get_storage(url)
        except SQLAlchemyError:
            time.sleep(0.5 + random.random())
    try:
        return optuna.storages.get_storage(url)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise ConfigError(f"storage {url!r} cannot be opened: {reason}") from error


def open_study(sweep: Sweep, storage: BaseStorage) -> optuna.Study:
    """Create the study or load it (the same command starts or continues a sweep)."""
    return optuna.create_study(
        storage=storage,
        study_name=sweep.name,
        direction=sweep.direction,
        sampler=sweep.sampler or optuna.samplers.TPESampler(seed=sweep.seed),
        pruner=sweep.pruner or optuna.pruners.NopPruner(),
        load_if_exists=True,
    )


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


def fail_dead_trials(study: optuna.Study, storage: BaseStorage) -> list[int]:
    """Mark failed (and interrupted) the running trials whose worker on this machine died."""
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if _dead(trial):
            storage.set_trial_user_attr(trial._trial_id, INTERRUPTED, True)
            study.tell(trial.number, state=TrialState.FAIL)
            failed.append(trial.number)
    return failed


def counted(study: optuna.Study) -> list[FrozenTrial]:
    """The trials that count towards `n_trials`: all but those whose worker was killed."""
    return [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get(INTERRUPTED)]


def claim_trial(study: optuna.Study, storage: BaseStorage, n_trials: int) -> optuna.Trial | None:
    """Start the next trial of the study, or None once `n_trials` are started or done.

    Under the study's mutex, so two workers never overshoot `n_trials`.
    """
    with study_lock(storage, study.study_name):
        for number in fail_dead_trials(study, storage):
            print(f"Trial {number}: its worker was killed; marked failed and replaced")
        if len(counted(study)) >= n_trials:
            return None
        trial = study.ask()
        trial.set_user_attr(WORKER, {"host": socket.gethostname(), "pid": os.getpid()})
        return trial

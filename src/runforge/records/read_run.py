"""What a run directory says about its run: status, epochs, best value, test metrics, time.

Only the files in the run directory are read, so a table of runs works on copies of
`logs/` and for runs of other machines.

Status of a run:

- `pruned`: a sweep trial stopped by the pruner (`sweep_trial.json`).
- `finished` / `stopped` / `failed`: as the run's last `provenance.json` entry recorded it
  when its process ended (`stopped`: by a signal, resumable; `failed`: an exception).
- `running`: the last entry's `running` status names a live process (or one on another
  machine).
- `killed`: the process died without a word (SIGKILL, power, OOM killer): its `running`
  status is left behind.
- Runs without these records (made before they existed) are `finished` when the last
  checkpoint reached `trainer.max_epochs`, was stopped by EarlyStopping, or the run has
  test metrics, else `incomplete`.

The best value of a sweep trial is that of the sweep's own monitor, as the trial reported
it to Optuna (`sweep_trial.json`); of any other run, the first monitoring ModelCheckpoint's.
A file that cannot be read (a corrupt `last.ckpt`, non-numeric test metrics) is left out
and named in the run's notes.
"""

import json
import os
import pickle
import socket
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from runforge.runs.directory import CHECKPOINTS, CONFIG_NAME

PROVENANCE = "provenance.json"
TRIAL = "sweep_trial.json"
TEST_METRICS = "test_metrics.json"


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _alive(owner: dict) -> bool:
    """Whether the process (`host`, `pid`) runs (assumed so on another machine)."""
    if owner.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, TypeError, ValueError):
        return True
    return True


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _checkpoint(run: Path) -> tuple[dict, str | None]:
    """`last.ckpt` without its tensors read (memory-mapped), or {} and what is wrong with it."""
    path = run / CHECKPOINTS / "last.ckpt"
    if not path.is_file():
        return {}, None
    from runforge.checkpoints.checkpoint_file import (
        read_checkpoint,  # imports torch: only when needed
    )

    try:
        ckpt = read_checkpoint(path)
    except pickle.UnpicklingError:  # random bytes, or objects that safe loading refuses
        return {}, "last.ckpt cannot be read (corrupt, or it holds objects safe loading refuses)"
    except Exception as error:  # truncated, empty, not a torch file: torch raises many kinds
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:80]
        return {}, f"last.ckpt cannot be read ({reason})"
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("epoch"), int):
        return {}, "last.ckpt is not a Lightning checkpoint (no epoch)"
    return ckpt, None


def _test_metrics(run: Path) -> tuple[dict[str, float], str | None]:
    """The numbers of `test_metrics.json`, and what is wrong with the file, if anything."""
    path = run / TEST_METRICS
    if not path.is_file():
        return {}, None
    metrics = _json(path)
    if not isinstance(metrics, dict):
        return {}, f"{TEST_METRICS} is not a JSON mapping of metric -> number"
    bad = [key for key, value in metrics.items() if not _number(value)]
    note = f"{TEST_METRICS}: not a number: {', '.join(bad)}" if bad else None
    return {k: float(v) for k, v in metrics.items() if k not in bad}, note


def _config(run: Path) -> tuple[dict, str | None]:
    """The run's `config.yaml`, or {} and what is wrong with it."""
    path = run / CONFIG_NAME
    if not path.is_file():
        return {}, None
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}, f"{CONFIG_NAME} cannot be read as YAML"
    return (config, None) if isinstance(config, dict) else ({}, f"{CONFIG_NAME} is not a mapping")


@dataclass
class RunRecord:
    """One run as its directory describes it."""

    path: Path
    status: str
    epochs: int | None
    monitor: str | None
    best: float | None
    test: dict[str, float]
    wall_s: float | None
    git_sha: str | None
    config: dict[str, Any] = field(repr=False)
    #: What is wrong with the run's files (a corrupt checkpoint, non-numeric metrics).
    notes: list[str] = field(default_factory=list)


def _status(trial: dict, entries: list[dict], ckpt: dict, config: dict, test: dict) -> str:
    if trial.get("state") == "pruned":
        return "pruned"
    recorded = entries[-1].get("status") if entries else None
    if recorded in ("finished", "stopped", "failed"):
        return recorded
    if recorded == "running":
        owner = {"host": entries[-1].get("hostname"), "pid": entries[-1].get("pid")}
        return "running" if _alive(owner) else "killed"
    if trial.get("state") == "fail":
        return "failed"
    max_epochs = (config.get("trainer") or {}).get("max_epochs")
    stopped = any(state.get("stopped_epoch") for state in ckpt.get("callbacks", {}).values())
    reached = ckpt and max_epochs is not None and ckpt["epoch"] + 1 >= max_epochs
    return "finished" if test or stopped or reached else "incomplete"


def _best(ckpt: dict, trial: dict) -> tuple[str | None, float | None]:
    """The sweep's monitor and the trial's best value, else the first monitoring checkpoint's."""
    if trial.get("monitor"):
        best = trial.get("best", trial.get("value"))
        return trial["monitor"], float(best) if _number(best) else None
    for state in ckpt.get("callbacks", {}).values():
        if state.get("monitor") and "best_model_score" in state:
            score = state["best_model_score"]
            return state["monitor"], None if score is None else float(score)
    return None, None


def _wall_s(run: Path, entries: list[dict]) -> float | None:
    """From the first start to the newest file the run wrote (its last sign of life)."""
    if not entries or "started_at" not in entries[0]:
        return None
    start = datetime.fromisoformat(entries[0]["started_at"]).timestamp()
    files = [p for folder in (run, run / CHECKPOINTS) if folder.is_dir() for p in folder.iterdir()]
    newest = max((p.stat().st_mtime for p in files if p.is_file()), default=start)
    return max(0.0, newest - start)


def read_run(run: Path) -> RunRecord:
    """Read one run directory; a broken file is left out and named in `notes`."""
    entries = (_json(run / PROVENANCE) or {}).get("entries") or []
    trial = _json(run / TRIAL) or {}
    config, config_note = _config(run)
    ckpt, ckpt_note = _checkpoint(run)
    test, test_note = _test_metrics(run)
    monitor, best = _best(ckpt, trial)
    git = entries[0].get("git", {}) if entries else {}
    sha = git.get("sha")
    return RunRecord(
        path=run,
        status=_status(trial, entries, ckpt, config, test),
        epochs=ckpt["epoch"] + 1 if ckpt else None,
        monitor=monitor,
        best=best,
        test=test,
        wall_s=_wall_s(run, entries),
        git_sha=(sha[:8] + ("+dirty" if git.get("dirty") else "")) if sha else None,
        config=config,
        notes=[n for n in (config_note, ckpt_note, test_note) if n],
    )


def run_dirs(experiment: Path) -> list[Path]:
    """The run directories of an experiment (folders with a config or provenance), by name."""
    return sorted(
        p
        for p in experiment.iterdir()
        if p.is_dir() and ((p / CONFIG_NAME).is_file() or (p / PROVENANCE).is_file())
    )

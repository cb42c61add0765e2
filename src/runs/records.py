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
"""

import json
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from runs.directory import CHECKPOINTS, CONFIG_NAME

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


def _checkpoint(run: Path) -> dict:
    """`last.ckpt` without its tensors read (memory-mapped); empty if there is none."""
    path = run / CHECKPOINTS / "last.ckpt"
    if not path.is_file():
        return {}
    from runs.checkpoint_file import read_checkpoint  # imports torch: only when needed

    return read_checkpoint(path)


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


def _status(run: Path, entries: list[dict], ckpt: dict, config: dict, test: dict) -> str:
    trial = _json(run / TRIAL) or {}
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


def _best(ckpt: dict) -> tuple[str | None, float | None]:
    """The monitor and best score of the first monitoring ModelCheckpoint."""
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
    """Read one run directory."""
    entries = (_json(run / PROVENANCE) or {}).get("entries") or []
    config_path = run / CONFIG_NAME
    config = yaml.safe_load(config_path.read_text()) if config_path.is_file() else {}
    ckpt = _checkpoint(run)
    test = _json(run / TEST_METRICS) or {}
    monitor, best = _best(ckpt)
    git = entries[0].get("git", {}) if entries else {}
    sha = git.get("sha")
    return RunRecord(
        path=run,
        status=_status(run, entries, ckpt, config or {}, test),
        epochs=ckpt["epoch"] + 1 if ckpt else None,
        monitor=monitor,
        best=best,
        test={k: float(v) for k, v in test.items()},
        wall_s=_wall_s(run, entries),
        git_sha=(sha[:8] + ("+dirty" if git.get("dirty") else "")) if sha else None,
        config=config or {},
    )


def run_dirs(experiment: Path) -> list[Path]:
    """The run directories of an experiment (folders with a config or provenance), by name."""
    return sorted(
        p
        for p in experiment.iterdir()
        if p.is_dir() and ((p / CONFIG_NAME).is_file() or (p / PROVENANCE).is_file())
    )

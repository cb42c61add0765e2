"""One writer per run directory: `<run>/run.lock` names the process that writes the run.

Every command that writes into a run (`fit`, a resumed fit, `validate`, `test`,
`predict`) takes the lock before anything of the run is written, and gives it back when
it ends, however it ends (finished, failed, stopped by a signal). A second command for the
same run refuses with one line naming the holder. A lock left behind by a process that no
longer runs on this machine (killed with SIGKILL, a second Ctrl-C) is taken over with a
warning; one of another machine is never taken over, unless it was left by an earlier
start of the same requeued SLURM job. The ranks of a multi-process run share the lock of
their rank zero: only the launching process (or rank zero of `torchrun`/`srun`) takes it.
"""

import contextlib
import json
import os
import shlex
import socket
import sys
import time
import weakref
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning.pytorch.utilities import rank_zero_warn

from runforge.runs.directory import RunError, discard, nothing_to_keep
from runforge.runs.slurm import batch_job_id

if TYPE_CHECKING:
    from lightning.pytorch import Trainer

LOCK_NAME = "run.lock"
#: Set to a process's rank by launchers (torchrun, srun, Lightning for its extra devices).
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID")
#: The locks this process holds (a lock file naming this process but not held is stale).
_HELD: "weakref.WeakValueDictionary[Path, RunLock]" = weakref.WeakValueDictionary()


def launched_as_rank_zero() -> bool:
    """Whether this process is rank zero of its launch (or not part of a launch at all)."""
    return all(os.environ.get(name, "0") == "0" for name in RANK_VARIABLES)


def _process_start(pid: int) -> str | None:
    """When process `pid` started (boot id + start tick), None where /proc does not tell."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return f"{boot}:{stat.rsplit(')', 1)[1].split()[19]}"


def holder(command: list[str] | None = None) -> dict[str, Any]:
    """What the lock file says about this process: pid, host, start time, command, SLURM job."""
    command = sys.argv if command is None else command
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now().astimezone().isoformat(timespec="seconds"),
        "process_start": _process_start(os.getpid()),
        "command": shlex.join([Path(command[0]).name, *command[1:]]) if command else "",
        "slurm_job": batch_job_id(),
        "slurm_restart": int(os.environ.get("SLURM_RESTART_COUNT", "0")),
    }


def _stale(lock: Path, owner: dict[str, Any]) -> str | None:
    """Why the lock's holder no longer writes the run, or None if it may still do so."""
    ours = holder()
    job, restart = owner.get("slurm_job"), owner.get("slurm_restart", 0)
    if job is not None and job == ours["slurm_job"] and restart < ours["slurm_restart"]:
        return f"an earlier start of SLURM job {job} left it"
    if owner.get("host") != ours["host"]:
        return None
    pid = owner["pid"]
    if pid == os.getpid():
        return None if lock in _HELD else "this process left it"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"process {pid} no longer runs"
    except PermissionError:  # another user's process
        pass
    started = owner.get("process_start")
    if started and _process_start(pid) not in (None, started):
        return f"process {pid} no longer runs (the pid now belongs to another process)"
    return None


def _refusal(run: Path, lock: Path, owner: dict[str, Any]) -> str:
    """The one line that names the holder of `lock` and what to do."""
    pid, host = owner.get("pid"), owner.get("host")
    words = str(owner.get("command", "")).split()[:2]  # e.g. `main.py fit`
    held = f"{run} is in use by process {pid} on {host} since {owner.get('since')}"
    held += f" (`{' '.join(words)}`)" if words else ""
    if host == socket.gethostname():
        return f"{held}: wait for it to end or stop it (kill {pid}), or work in another run"
    return (
        f"{held}: wait for it to end or stop it there; if it no longer runs on {host}, "
        f"delete {lock} and run again"
    )


def _read(lock: Path) -> tuple[bytes, dict[str, Any]] | None:
    """The lock's text and content; None once it is gone. Waits briefly for one being written."""
    for _ in range(20):
        try:
            text = lock.read_bytes()
            owner = json.loads(text)
            if isinstance(owner, dict) and isinstance(owner.get("pid"), int):
                return text, owner
        except FileNotFoundError:
            return None
        except ValueError:
            pass
        time.sleep(0.05)  # created a moment ago, not written yet
    raise RunError(f"{lock} cannot be read: if no process writes {lock.parent}, delete it")


def _create(lock: Path, text: bytes) -> bool:
    """Create `lock` holding `text` if there is none (atomic: O_CREAT | O_EXCL)."""
    try:
        descriptor = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "wb") as file:
        file.write(text)
    return True


def _give_back(lock: Path, text: bytes) -> None:
    """Delete `lock` if it still holds `text` (a process that judged it stale may own it now)."""
    with contextlib.suppress(FileNotFoundError):
        if lock.read_bytes() == text:
            lock.unlink()


def _remove_stale(lock: Path, seen: bytes) -> None:
    """Remove `lock` if it still holds `seen` (another process may have taken it over)."""
    aside = lock.with_name(f"{LOCK_NAME}.stale-{os.getpid()}")
    try:
        os.rename(lock, aside)  # atomic: of two processes taking it over, one moves it
    except FileNotFoundError:
        return
    if aside.read_bytes() == seen:
        aside.unlink()
    else:  # a lock just taken over by another process: give it back
        os.rename(aside, lock)


class RunLock:
    """The lock of the run this command writes into (see the module's description)."""

    def __init__(self) -> None:
        self.path: Path | None = None
        #: Gives the lock back once: on `release`, when garbage collected or at exit.
        self._give_back = weakref.finalize(self, lambda: None)
        #: Folders that taking the lock created for a new run (removed again if left empty).
        self.created: list[Path] = []

    def take(self, run: Path, command: list[str] | None = None) -> None:
        """Take `<run>/run.lock` (rank zero only); a RunError names the process holding it.

        `command` (default: `sys.argv`) is recorded in the lock for whoever finds it taken.
        """
        if not launched_as_rank_zero():
            return
        self.created = [p for p in (run, *run.parents) if not p.exists()]
        run.mkdir(parents=True, exist_ok=True)
        lock = (run / LOCK_NAME).absolute()
        text = (json.dumps(holder(command), indent=2) + "\n").encode()
        left_over = since = None
        for _ in range(5):
            if _create(lock, text):
                self.path, _HELD[lock] = lock, self
                self._give_back = weakref.finalize(self, _give_back, lock, text)
                if left_over:
                    rank_zero_warn(f"took over {lock}, held since {since}: {left_over}")
                return
            seen = _read(lock)
            if seen is None:
                continue
            left_over, since = _stale(lock, seen[1]), seen[1].get("since")
            if left_over is None:
                self.release()
                raise RunError(_refusal(run, lock, seen[1]))
            _remove_stale(lock, seen[0])
        self.release()
        raise RunError(f"{lock}: other processes keep taking this run's lock; try again")

    def release(self) -> None:
        """Give the lock back (if this process still holds it); remove folders left empty."""
        if self.path is not None:
            _HELD.pop(self.path, None)
            self._give_back()
            self.path = None
        if self.created and self.created[0].is_dir() and not any(self.created[0].iterdir()):
            discard(self.created)
        self.created = []

    def discard_new_run(self, trainer: "Trainer", quietly: bool) -> None:
        """Remove the run this command created if its fit left nothing to keep (no step)."""
        if self.created and nothing_to_keep(trainer):
            if not quietly:
                print(
                    f"The run failed before its first step; removed {self.created[0]}",
                    file=sys.stderr,
                )
            discard(self.created)
            self.created = []

    @contextlib.contextmanager
    def released_after(self, keep: bool = False) -> Iterator["RunLock"]:
        """Release the lock when the block ends; with `keep`, only if it fails."""
        try:
            yield self
        except BaseException:
            self.release()
            raise
        if not keep:
            self.release()

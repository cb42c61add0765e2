"""Free disk space taken by local W&B run folders (`wandb/run-*`, `wandb/offline-run-*`).

A folder is removed when its run no longer exists on the W&B server (deleted in the web
UI), or with `--older-than DAYS` when it was last written to more than DAYS ago. Offline
runs that were never synced (no `wandb sync`) exist nowhere else, so they are kept unless
you pass `--include-unsynced`. Only the W&B run folders themselves are touched: run
directories' config.yaml, checkpoints and other loggers' files stay.

    python scripts/clear_wandb_cache.py                     # dry run: what would go
    python scripts/clear_wandb_cache.py --yes               # remove it
    python scripts/clear_wandb_cache.py --older-than 30 --yes
"""

import argparse
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# Same bootstrap as src/main.py: project root, `.env` (WANDB_API_KEY, ...), root as cwd.
from runforge.bootstrap import setup_project

setup_project(__file__)

from wandb_files import iter_records  # noqa: E402  (beside this script)

RUN_PREFIXES = ("run-", "offline-run-")


class ServerError(RuntimeError):
    """The W&B server cannot be asked (no network, no credentials); the message says which."""


@dataclass
class RunFolder:
    """One local W&B run folder and what is known about it without the server."""

    path: Path
    run_id: str
    offline: bool
    synced: bool
    last_written: float
    size: int
    entity: str = ""
    project: str = ""

    @property
    def server_path(self) -> str:
        """`entity/project/run_id` (entity left out when unknown: the API's default)."""
        return "/".join(part for part in (self.entity, self.project, self.run_id) if part)


def read_run_record(path: Path) -> tuple[str, str]:
    """Entity and project of the run record in a `.wandb` file ("" where unknown)."""
    try:
        for record in iter_records(path):
            if record.HasField("run"):
                return record.run.entity, record.run.project
    except ValueError:
        pass
    return "", ""


def _scan(folder: Path) -> tuple[float, int]:
    newest, size = folder.lstat().st_mtime, 0
    for base, _, files in os.walk(folder):
        for name in files:
            stat = os.lstat(os.path.join(base, name))
            newest, size = max(newest, stat.st_mtime), size + stat.st_size
    return newest, size


def find_run_folders(root: Path) -> list[RunFolder]:
    """Every W&B run folder (`.../wandb/run-*` or `.../wandb/offline-run-*`) under `root`."""
    found = []
    for base, dirs, _ in os.walk(root):  # symlinks (wandb/latest-run) are not followed
        if Path(base).name != "wandb":
            continue
        for name in sorted(dirs):
            folder = Path(base, name)
            if not name.startswith(RUN_PREFIXES) or folder.is_symlink():
                continue
            logs = sorted(folder.glob("*.wandb"))
            if not logs and not (folder / "files" / "wandb-metadata.json").is_file():
                continue  # not W&B's: a folder of the same name without W&B's run files
            offline = name.startswith("offline-run-")
            last_written, size = _scan(folder)
            entity, project = read_run_record(logs[0]) if logs else ("", "")
            found.append(
                RunFolder(
                    path=folder,
                    run_id=name.rsplit("-", 1)[-1],
                    offline=offline,
                    synced=not offline or any(folder.glob("*.wandb.synced")),
                    last_written=last_written,
                    size=size,
                    entity=entity,
                    project=project,
                )
            )
        dirs[:] = [d for d in dirs if not d.startswith(RUN_PREFIXES)]
    return found


class Server:
    """Asks the W&B server whether runs exist; created on the first question."""

    def __init__(self) -> None:
        self._api = None

    def _connect(self):
        import wandb

        if self._api is None:
            try:
                self._api = wandb.Api(timeout=30)
            except Exception as error:  # no key, no network, bad host: all end here
                raise ServerError(f"cannot use the W&B server: {_one_line(error)}") from None
        return self._api

    def exists(self, run: RunFolder) -> bool:
        """Whether the run is still on the server; ServerError when that cannot be told."""
        import wandb

        api = self._connect()
        try:
            api.run(run.server_path)
        except wandb.errors.AuthenticationError as error:
            raise ServerError(f"W&B refused the credentials: {_one_line(error)}") from None
        except wandb.errors.CommError as error:
            if _is_transport_failure(error):
                raise ServerError(f"cannot reach the W&B server: {_one_line(error)}") from None
            return False  # the server answered: no such run (or project)
        except ValueError:  # RunNotFoundError
            return False
        return True


def _is_transport_failure(error: Exception) -> bool:
    import requests

    cause = getattr(error, "exc", None)
    if isinstance(cause, (requests.ConnectionError, requests.Timeout)):
        return True
    status = getattr(getattr(cause, "response", None), "status_code", None)
    return status is not None and (status >= 500 or status in (401, 403))


def _one_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _size(size: float) -> str:
    if size < 1024:
        return f"{size:.0f} B"
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            break
    return f"{size:.1f} {unit}"


def decide(
    run: RunFolder, server: Server, older_than: float | None, include_unsynced: bool, now: float
) -> str | None:
    """Why `run` should be removed, or None to keep it."""
    old = older_than is not None and now - run.last_written > older_than * 86400
    if not run.synced:
        if include_unsynced and (older_than is None or old):
            return "never synced (--include-unsynced)"
        return None
    if old:
        return f"older than {older_than:g} days"
    if not server.exists(run):
        return "deleted on the server"
    return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Without --yes nothing is deleted: the folders and the space they take are listed.",
    )
    parser.add_argument(
        "root",
        nargs="?",
        default="logs",
        help="folder searched for W&B run folders; relative to the project root (default: logs)",
    )
    parser.add_argument(
        "--older-than",
        type=float,
        metavar="DAYS",
        help="also remove synced runs last written more than DAYS ago (their data is online)",
    )
    parser.add_argument(
        "--include-unsynced",
        action="store_true",
        help="also remove offline runs never synced to the server (their only copy!); "
        "with --older-than only the old ones",
    )
    parser.add_argument("--yes", action="store_true", help="delete (default: dry run)")
    return parser.parse_args(argv)


def refusal(root: Path, older_than: float | None) -> str | None:
    """Why the arguments are refused (one line), or None when they are fine."""
    if older_than is not None and not older_than >= 0:
        return f"--older-than {older_than:g}: give a number of days >= 0"
    if not root.is_dir():
        return f"{root} is not a folder"
    resolved = root.resolve()
    if resolved == Path(resolved.anchor) or resolved == Path.home().resolve():
        return f"{root} is the file system root or your home folder: give the runs' folder (logs)"
    return None


def main(argv: list[str] | None = None) -> int:
    """List (with --yes: delete) the W&B run folders no longer needed; return the exit code."""
    args = parse_args(argv)
    root = Path(args.root)
    refused = refusal(root, args.older_than)
    runs = [] if refused else find_run_folders(root)
    if not refused and not runs:
        refused = f"{root} holds no W&B run folders (wandb/run-*/ with W&B's run files)"
    if refused:
        print(f"error: {refused}; nothing was removed", file=sys.stderr)
        return 2
    server, now = Server(), time.time()
    chosen: list[tuple[RunFolder, str]] = []
    unsynced_kept = 0
    try:
        for run in runs:
            reason = decide(run, server, args.older_than, args.include_unsynced, now)
            if reason:
                chosen.append((run, reason))
            elif not run.synced:
                unsynced_kept += 1
    except ServerError as error:
        print(f"error: {error} (nothing was removed)", file=sys.stderr)
        return 2
    for run, reason in chosen:
        print(
            f"{'removed' if args.yes else 'would remove'}  {run.path}  {_size(run.size)}  {reason}"
        )
        if args.yes:
            shutil.rmtree(run.path)
            latest = run.path.parent / "latest-run"
            if latest.is_symlink() and not latest.exists():
                latest.unlink()
    freed = _size(sum(run.size for run, _ in chosen))
    if args.yes:
        print(f"Freed {freed} in {len(chosen)} W&B run folder(s).")
    else:
        print(f"Would free {freed} in {len(chosen)} W&B run folder(s); pass --yes to delete.")
    if unsynced_kept:
        print(
            f"Kept {unsynced_kept} offline run(s) never synced to W&B (`wandb sync` uploads them; "
            "--include-unsynced removes them)."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

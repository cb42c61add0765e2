"""Record where a run came from: command, machine, seed, code version, packages, entry point.

Each `fit` of a run appends one entry to `<run>/provenance.json`; a resumed fit adds an
entry of kind `resume` and never rewrites the first one. Uncommitted changes are saved as
a patch (`git.diff`, then `git-<n>.diff` for later entries), and a notebook or script that
launched the training (anything but `src/main.py`) is copied into the run directory.
"""

import filecmp
import importlib.metadata
import itertools
import json
import logging
import os
import platform
import re
import shutil
import socket
import sys
import sysconfig
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_only

from runforge.git.code_files import literal_exclusions, new_code_files, secret_pathspecs
from runforge.git.git import Git, GitError
from runforge.records.run_status import set_status, status_of, write_json
from runforge.runs.directory import run_dir

if TYPE_CHECKING:
    from runforge.git.commit import GitCommit

log = logging.getLogger(__name__)

PROVENANCE_NAME = "provenance.json"
FORMAT_VERSION = 1
#: The template's own entry point; launching through it copies nothing.
TEMPLATE_MAIN = Path(__file__).resolve().parents[2] / "main.py"
#: New files larger than this, or beyond this many, are listed but left out of the patch.
MAX_UNTRACKED_BYTES = 1_000_000
MAX_UNTRACKED_FILES = 100


def installed_packages() -> list[str]:
    """The installed distributions as sorted `name==version` lines, like `pip freeze`."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        # Name and Version from the header lines: parsing the metadata as an email message
        # (`dist.metadata`) takes ~10x longer (~50 ms for 150 packages).
        text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
        head = [line.partition(": ") for line in itertools.takewhile(bool, text.splitlines())]
        fields = {key: value.strip() for key, _, value in reversed(head)}  # the first wins
        if name := fields.get("Name"):
            key = re.sub(r"[-_.]+", "-", name).lower()
            found.setdefault(key, f"{name}=={fields.get('Version', '')}")
    return [found[key] for key in sorted(found)]


def versions() -> dict[str, Any]:
    """Python, torch, Lightning and CUDA versions, the platform and the visible GPUs."""
    import lightning
    import torch

    cuda = torch.cuda.is_available()
    return {
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "platform": platform.platform(),
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if cuda
        else [],
    }


def _is_installed_file(path: Path) -> bool:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    roots |= {sysconfig.get_path(key) for key in ("purelib", "platlib", "scripts")}
    return any(path.is_relative_to(Path(root).resolve()) for root in roots if root)


def entry_point() -> tuple[str, Path] | None:
    """The notebook or script that launched this process, if it should be copied into the run.

    VS Code notebooks set `__vsc_ipynb_file__` in `__main__`; Jupyter kernels get the
    notebook path in the `JPY_SESSION_NAME` environment variable. A script counts unless
    it is the template's `src/main.py` or an installed tool (pytest, the `python -m` of a
    package).
    """
    main = sys.modules.get("__main__")
    notebook = getattr(main, "__vsc_ipynb_file__", None)
    if notebook and Path(notebook).is_file():
        return "notebook", Path(notebook).resolve()
    session = os.environ.get("JPY_SESSION_NAME")
    if session and session.endswith(".ipynb"):
        candidates = [Path(session), Path(os.environ.get("PWD", ".")) / session]
        for candidate in candidates:
            if candidate.is_file():
                return "notebook", candidate.resolve()
    script = getattr(main, "__file__", None)
    if script:
        path = Path(script).resolve()
        if path.is_file() and path != TEMPLATE_MAIN and not _is_installed_file(path):
            return "script", path
    return None


def _copy_into(source: Path, folder: Path) -> str:
    """Copy `source` into `folder` without overwriting a different file; return the copy's name."""
    target = folder / source.name
    number = 1
    while target.exists() and not filecmp.cmp(source, target, shallow=False):
        target = folder / f"{source.stem}-{number}{source.suffix}"
        number += 1
    if not target.exists():
        shutil.copy2(source, target)
    return target.name


def git_state(
    git: Git, run_dir: Path, diff_name: str, warned: Iterable[str] = ()
) -> dict[str, Any]:
    """The sha of HEAD, whether the tree is dirty and, if so, a patch written to `diff_name`.

    Files whose content holds a secret are left out of the patch and listed under
    `secrets_not_in_diff`, with one warning line unless all of them are in `warned` (the
    files `--git_commit_before_fit` already warned about).
    """
    try:
        top = git.toplevel()
        sha = git.head()
        status = git.status()
    except GitError as error:
        return {"error": str(error)}
    state: dict[str, Any] = {"repository": str(top), "sha": sha, "dirty": bool(status)}
    if not status:
        return state
    top_git = Git(top)
    base = sha or top_git.run("hash-object", "-t", "tree", "/dev/null").stdout.strip()
    tracked = ["--", ":/", *secret_pathspecs()]
    changed = top_git.run("diff", "--name-only", "-z", base, *tracked).stdout.split("\0")
    untracked = top_git.run("ls-files", "--others", "--exclude-standard", "-z").stdout.split("\0")
    untracked = [name for name in untracked if name]
    code = set(new_code_files(untracked))  # the same rule as --git_commit_before_fit
    new = [
        name
        for index, name in enumerate(untracked)
        if name in code
        and index < MAX_UNTRACKED_FILES
        and (top / name).is_file()
        and (top / name).stat().st_size <= MAX_UNTRACKED_BYTES
    ]
    from runforge.git.secret_scan import files_with_secrets, left_out_line  # a dirty tree only

    secrets = files_with_secrets(top, [name for name in changed if name] + new)
    if set(secrets) - set(warned):
        log.warning(left_out_line(f"The run's patch {diff_name}", secrets))
    diff = ["diff", "--no-color", "--no-ext-diff", "--binary", base]
    patch = top_git.run(*diff, *tracked, *literal_exclusions(list(secrets))).stdout
    for name in new:
        if name not in secrets:
            patch += top_git.run(
                "diff", "--no-color", "--no-index", "--binary", "--", "/dev/null", name,
                check=False,
            ).stdout  # fmt: skip
    (run_dir / diff_name).write_text(patch)
    left_out = [name for name in untracked if name not in new or name in secrets]
    state.update(
        diff=diff_name, untracked=untracked, untracked_not_in_diff=left_out,
        secrets_not_in_diff=secrets,
    )  # fmt: skip
    return state


class Provenance(Callback):
    """Append where this fit came from to `<run>/provenance.json`.

    One entry per fit of the run (`start`, then `resume` for fits from a checkpoint):
    command line, working directory, start time, hostname, seed, git sha / dirty flag /
    patch, Python, torch, Lightning and CUDA versions, installed packages, and a copy of
    the launching notebook or script. With `--git_commit_before_fit` the commit is made
    first, so the sha is the new commit. Rank zero only; nothing in a `fast_dev_run`.

    Args:
        command: The command line to record; default: the one the CLI was given
            (`sys.argv` outside the CLI).
        cwd: A folder inside the git repository (default: the working directory).
    """

    def __init__(self, command: list[str] | None = None, cwd: str | None = None) -> None:
        self.command = list(command) if command is not None else None
        self.git = Git(cwd)
        self.entry: dict[str, Any] | None = None
        self.path: Path | None = None

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Record once per fit, after the checkpoint to resume from is known."""
        if self.entry is None and not trainer.fast_dev_run:
            # The `--git_commit_before_fit` step, which the config saver made at setup.
            commits = [c.git_commit for c in trainer.callbacks if hasattr(c, "git_commit")]
            self.record(run_dir(trainer), trainer.ckpt_path, next(filter(None, commits), None))

    @rank_zero_only
    def record(
        self,
        folder: str | Path,
        ckpt_path: str | Path | None = None,
        git_commit: "GitCommit | None" = None,
    ) -> dict[str, Any]:
        """Append an entry for a fit started now in `folder` (resumed from `ckpt_path`, if given).

        `git_commit` is the `--git_commit_before_fit` step, committed now if it has not been.
        """
        if git_commit is not None:
            git_commit.commit()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / PROVENANCE_NAME
        document = {"format": FORMAT_VERSION, "entries": []}
        if path.is_file():
            document = json.loads(path.read_text())
        number = len(document["entries"])
        seed = os.environ.get("PL_GLOBAL_SEED")
        entry: dict[str, Any] = {
            "kind": "resume" if ckpt_path else "start",
            "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": self.command if self.command is not None else list(sys.argv),
            "cwd": os.getcwd(),
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "status": "running",  # until the fit ends (see runforge.records.run_status)
            "seed": int(seed) if seed is not None else None,
            "ckpt_path": str(ckpt_path) if ckpt_path else None,
            "git": git_state(
                self.git,
                folder,
                "git.diff" if number == 0 else f"git-{number}.diff",
                warned=git_commit.secrets if git_commit is not None else (),
            ),
            "versions": versions(),
            "entry_point": None,
        }
        if git_commit is not None:
            entry["git"]["committed_before_fit"] = git_commit.committed
            entry["git"]["committed_files"] = git_commit.files
        found = entry_point()
        if found is not None:
            kind, source = found
            entry["entry_point"] = {
                "kind": kind,
                "source": str(source),
                "copy": _copy_into(source, folder),
            }
        entry["packages"] = installed_packages()
        document["entries"].append(entry)
        write_json(path, document)
        self.entry, self.path = entry, path
        return entry

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """The fit ended normally (all epochs, or stopped early by a callback)."""
        if self.path is not None:
            rank_zero_only(set_status)(self.path, "finished")

    def on_exception(
        self, trainer: Trainer, pl_module: LightningModule, exception: BaseException
    ) -> None:
        """A signal stopped the fit (`stopped`, resumable), or an error ended it (`failed`)."""
        if self.path is not None:
            rank_zero_only(set_status)(self.path, *status_of(exception))

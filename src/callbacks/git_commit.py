"""Commit the working tree before `fit`, so every run points at the exact code it ran.

Git is always called with argument lists (never through a shell), so run names with
quotes, `$(...)` or spaces are passed to git as plain text.
"""

import logging
import os
import subprocess
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only

log = logging.getLogger(__name__)


class GitError(RuntimeError):
    """A git command could not be run or failed; the message says why in one line."""


class Git:
    """Run git commands in the repository that contains `cwd` (default: the working directory).

    Args:
        cwd: A folder inside the repository.
    """

    def __init__(self, cwd: str | Path | None = None) -> None:
        self.cwd = Path(cwd) if cwd is not None else Path.cwd()

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run `git ARGS` and return the finished process; raise GitError when `check` fails."""
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        try:
            done = subprocess.run(
                ["git", *args], cwd=self.cwd, env=env, capture_output=True, text=True, check=False
            )
        except FileNotFoundError:
            raise GitError("git is not installed (no `git` on PATH)") from None
        if check and done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            reason = lines[-1] if lines else f"exit code {done.returncode}"
            raise GitError(f"`git {' '.join(args[:2])}` failed: {reason}")
        return done

    def toplevel(self) -> Path:
        """The repository's top folder; GitError when `cwd` is not inside a git repository."""
        done = self.run("rev-parse", "--show-toplevel", check=False)
        if done.returncode != 0:
            raise GitError(f"{self.cwd} is not inside a git repository")
        return Path(done.stdout.strip())

    def head(self) -> str | None:
        """The commit sha of HEAD, or None in a repository without commits."""
        done = self.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        if done.returncode != 0:
            return None
        return done.stdout.strip() or None

    def has_identity(self) -> bool:
        """Whether git knows who the author and committer of a new commit are."""
        return all(
            self.run("var", var, check=False).returncode == 0
            for var in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT")
        )

    def status(self) -> list[str]:
        """`git status --porcelain` lines: changed tracked files and untracked, not ignored ones."""
        done = self.run("--no-optional-locks", "status", "--porcelain", "--untracked-files=all")
        return done.stdout.splitlines()


class GitCommit(Callback):
    """Before `fit`, commit modified and new (not gitignored) files, with the run in the message.

    Problems (not a repository, git missing, no user identity, a failing hook) print one
    warning and training goes on; with nothing to commit the current HEAD is used. The
    commit's sha is in `sha` afterwards and goes into the run's provenance. Rank zero only.

    Args:
        message: The commit message, e.g. `Run <name>/<version>`.
        cwd: A folder inside the repository (default: the working directory).
        exclude: Folders never committed even when not gitignored (e.g. the runs' root).
    """

    def __init__(
        self,
        message: str,
        cwd: str | Path | None = None,
        exclude: list[str | Path] | None = None,
    ) -> None:
        self.message = message
        self.git = Git(cwd)
        self.exclude = [Path(p) for p in exclude or []]
        self.sha: str | None = None
        self.committed = False
        self.done = False

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Commit at the start of fit."""
        if stage == "fit":
            self.commit()

    def _pathspec(self, top: Path) -> list[str]:
        specs = []
        for folder in self.exclude:
            try:
                relative = folder.resolve().relative_to(top.resolve())
            except ValueError:
                continue  # outside the repository: nothing to exclude
            if relative.parts:
                specs.append(f":(top,exclude){relative.as_posix()}")
        return ["--", ":/", *specs] if specs else []

    def commit(self) -> str | None:
        """Commit now (once); return the sha the run uses, or None when there is none."""
        if not self.done and rank_zero_only.rank == 0:
            self.done = True
            try:
                self._commit()
            except GitError as error:
                log.warning(f"--git_commit_before_fit: {error}; nothing committed")
        return self.sha

    def _commit(self) -> None:
        top = self.git.toplevel()
        self.sha = self.git.head()
        if not self.git.has_identity():
            raise GitError(
                "git has no user identity (set `git config user.name` and `git config "
                f"user.email`); the run uses HEAD {self.sha}"
            )
        self.git.run("add", "--all", *self._pathspec(top))
        if self.git.run("diff", "--cached", "--quiet", check=False).returncode == 0:
            rank_zero_info(
                f"--git_commit_before_fit: nothing to commit, the run uses HEAD {self.sha}"
            )
            return
        try:
            self.git.run("commit", "--quiet", "--message", self.message)
        except GitError as error:
            raise GitError(
                f"{error}; the changes stay staged, the run uses HEAD {self.sha}"
            ) from None
        self.sha = self.git.head()
        self.committed = True
        rank_zero_info(f"--git_commit_before_fit: committed {self.sha} ({self.message!r})")

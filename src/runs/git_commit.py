"""`--git_commit_before_fit`: commit the working tree, so every run points at the code it ran."""

import logging
from pathlib import Path

from lightning.pytorch.utilities import rank_zero_info, rank_zero_only

from runs.git import Git, GitError

log = logging.getLogger(__name__)


class GitCommit:
    """Commit modified and new (not gitignored) files, with the run in the message.

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

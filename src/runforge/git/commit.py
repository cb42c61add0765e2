"""`--git_commit_before_fit`: commit the working tree, so every run points at the code it ran."""

import logging
from pathlib import Path

from lightning.pytorch.utilities import rank_zero_info, rank_zero_only

from runforge.git.code_files import new_code_files, secret_pathspecs
from runforge.git.git import Git, GitError

log = logging.getLogger(__name__)


class GitCommit:
    """Commit changes of tracked files and new code files, with the run in the message.

    New files are taken from the code folders only (`src/ configs/ scripts/ notebooks/
    tests/`, see `runforge.git.code_files`), never from the excluded folders (the runs' root);
    files whose names look like secrets (`.env*`, keys, credentials, `.ssh/`) are never
    staged, and files whose content holds one (`runforge.git.secret_scan`) are left out with one
    warning line and listed in `secrets`. The committed files are listed in `files` (and
    the run's provenance). Problems (not a
    repository, git missing, no user identity, a failing hook) print one warning and
    training goes on; with nothing to commit the current HEAD is used. The
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
        #: The files of the commit (staged changes: tracked files and new code files).
        self.files: list[str] = []
        #: The files left out because their content holds a secret, with what was found.
        self.secrets: dict[str, str] = {}

    def _excluded(self, top: Path) -> list[str]:
        """The excluded folders inside the repository, relative to its top."""
        folders = []
        for folder in self.exclude:
            try:
                relative = folder.resolve().relative_to(top.resolve())
            except ValueError:
                continue  # outside the repository: nothing to exclude
            if relative.parts:
                folders.append(relative.as_posix())
        return folders

    def _stage(self, top: Path) -> None:
        """Stage tracked changes and new code files: never secrets or the excluded folders."""
        excluded = self._excluded(top)
        specs = [*secret_pathspecs(), *(f":(top,exclude){folder}" for folder in excluded)]
        git = Git(top)
        git.run("add", "--update", "--", ":/", *specs)
        untracked = git.run("ls-files", "--others", "--exclude-standard", "-z").stdout
        new = new_code_files([name for name in untracked.split("\0") if name], excluded)
        if new:
            git.run("add", "--", *new)
        from runforge.git.secret_scan import files_with_secrets, left_out_line

        self.secrets = files_with_secrets(top, _staged(git))
        if self.secrets:
            git.run("reset", "--quiet", "--", *self.secrets)
            log.warning(left_out_line("--git_commit_before_fit", self.secrets))
        self.files = _staged(git)

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
        self._stage(top)
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


def _staged(git: Git) -> list[str]:
    """The files with staged changes, relative to the repository's top."""
    staged = git.run("diff", "--cached", "--name-only", "-z").stdout
    return [name for name in staged.split("\0") if name]

"""Run git commands: the runner behind `--git_commit_before_fit` and the run's provenance.

Git is always called with argument lists (never through a shell), so run names with
quotes, `$(...)` or spaces are passed to git as plain text.
"""

import os
import subprocess
from pathlib import Path


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

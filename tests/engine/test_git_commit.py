"""--git_commit_before_fit: what is committed, shell-safe messages, non-fatal problems."""

import logging
import os
import secrets
import shutil
import subprocess
import sys
from unittest.mock import ANY

import pytest

from helpers import GIT_IDENTITY, ROOT, TINY, TOY, git, only_run_dir, read_json, run_cli
from runforge.git.commit import GitCommit
from runforge.git.git import Git


def test_commits_changes_and_new_code_files_never_secrets_runs_or_other_files(git_repo):
    (git_repo / "train.py").write_text("LR = 0.2\n")
    new = {"src/model.py": "x = 1\n", "configs/exp.yaml": "a: 1\n", "notes.txt": "todo\n"}
    secrets = [".env.local", "src/secrets.json", "configs/api.key", "scripts/id_rsa"]
    for name, text in [*new.items(), *((name, "KEY=1\n") for name in secrets)]:
        (git_repo / name).parent.mkdir(parents=True, exist_ok=True)
        (git_repo / name).write_text(text)
    for ignored in ("logs/run/config.yaml", "data/set.bin", ".env", "src/runs/r/ckpt"):
        (git_repo / ignored).parent.mkdir(parents=True, exist_ok=True)
        (git_repo / ignored).write_text("secret\n")
    step = GitCommit("Run exp/v1", cwd=git_repo, exclude=[git_repo / "src" / "runs"])
    sha = step.commit()
    assert sha == git(git_repo, "rev-parse", "HEAD") and step.committed
    assert git(git_repo, "log", "-1", "--format=%s") == "Run exp/v1"
    committed = sorted(git(git_repo, "show", "--name-only", "--format=", "HEAD").split())
    assert committed == ["configs/exp.yaml", "src/model.py", "train.py"] == sorted(step.files)
    left = sorted(line[3:] for line in git(git_repo, "status", "--porcelain", "-uall").splitlines())
    assert left == sorted([*secrets, "notes.txt", "src/runs/r/ckpt"])
    assert step.commit() == sha, "a second call must not commit again"


def test_message_with_shell_syntax_is_plain_text(git_repo, tmp_path, monkeypatch):
    monkeypatch.chdir(git_repo)
    (git_repo / "train.py").write_text("LR = 0.3\n")
    message = 'Run exp/x"$(touch PWNED)"\'; touch PWNED2 `touch PWNED3`'
    GitCommit(message).commit()  # the repository of the working directory
    assert git(git_repo, "log", "-1", "--format=%B") == message
    assert not list(tmp_path.rglob("PWNED*"))


def test_nothing_to_commit_keeps_head(git_repo):
    head = git(git_repo, "rev-parse", "HEAD")
    step = GitCommit("Run exp/v1", cwd=git_repo)
    assert step.commit() == head
    assert not step.committed
    assert git(git_repo, "rev-list", "--count", "HEAD") == "1"


def test_not_a_repository_warns_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    plain = tmp_path / "plain"
    plain.mkdir()
    with caplog.at_level(logging.WARNING):
        assert GitCommit("Run a/b", cwd=plain).commit() is None
    [record] = caplog.records
    assert "not inside a git repository" in record.getMessage()
    assert "\n" not in record.getMessage()


def test_git_not_installed_warns(git_repo, tmp_path, monkeypatch, caplog):
    empty = tmp_path / "no-git-here"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with caplog.at_level(logging.WARNING):
        assert GitCommit("Run a/b", cwd=git_repo).commit() is None
    assert "git is not installed" in caplog.text


def _refused_commit_warning(repo, caplog) -> str:
    """Try to commit a change where git refuses; check HEAD stays; return the warnings."""
    (repo / "train.py").write_text("LR = 0.4\n")
    head = git(repo, "rev-parse", "HEAD")
    with caplog.at_level(logging.WARNING):
        step = GitCommit("Run a/b", cwd=repo)
        assert step.commit() == head
    assert not step.committed
    return caplog.text


def test_no_identity_warns_and_stages_nothing(git_repo, tmp_path, monkeypatch, caplog):
    for key in GIT_IDENTITY:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    git(git_repo, "config", "user.useConfigOnly", "true")
    assert "user identity" in _refused_commit_warning(git_repo, caplog)
    assert git(git_repo, "diff", "--cached", "--name-only") == "", "nothing may be left staged"


def test_a_refused_commit_warns_and_keeps_head(git_repo, caplog):
    hook = git_repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'lint failed: style' >&2\nexit 1\n")
    hook.chmod(0o755)
    warning = _refused_commit_warning(git_repo, caplog)
    assert "`git commit --quiet` failed: lint failed: style; the changes stay staged" in warning


def test_only_rank_zero_commits(git_repo, monkeypatch):
    from lightning.pytorch.utilities import rank_zero_only

    monkeypatch.setattr(rank_zero_only, "rank", 1)
    (git_repo / "new.py").write_text("w = 4\n")
    assert GitCommit("Run a/b", cwd=git_repo).commit() is None
    assert git(git_repo, "rev-list", "--count", "HEAD") == "1"


def test_git_helper_reports_head_of_a_fresh_repository(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    git(tmp_path, "init", "-q")
    assert Git(tmp_path).head() is None


@pytest.mark.slow
def test_cli_commits_in_the_projects_repository(tmp_path):
    """The real CLI in a copy of the template: a hostile run version is harmless text."""
    project = tmp_path / "project"
    for folder in ("src", "configs", "tests/configs"):
        shutil.copytree(ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__py*"))
    for name in (".project-root", ".gitignore"):
        shutil.copy(ROOT / name, project / name)
    env = {**GIT_IDENTITY, "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    git_env = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, *git_env, "commit", "-q", "-m", "template")
    (project / "src" / "models" / "my_net.py").write_text("WIDTH = 8\n")
    # What a hostile user found committed: an API key, a service account, an SSH config.
    api_key = secrets.token_hex(20)
    (project / "configs" / "api_keys.yaml").write_text(f"wandb:\n  api_key: {api_key}\n")
    (project / "src" / "service_account.json").write_text('{"private_key": "k"}\n')
    (project / "src" / ".ssh").mkdir()
    (project / "src" / ".ssh" / "config").write_text("Host cluster\n")
    version = 'x"$(touch PWNED)"'
    args = [*TINY, "--git_commit_before_fit", "true"]
    result = subprocess.run(
        [sys.executable, "src/main.py", "fit", *TOY, *args, "--run.version", version],
        cwd=project,
        env={**os.environ, **env, "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert not list(tmp_path.rglob("PWNED")), "the run version reached a shell"
    head = git(project, "rev-parse", "HEAD")
    assert git(project, "log", "-1", "--format=%s") == f"Run default/{version}"
    assert "src/models/my_net.py" in git(project, "show", "--name-only", "--format=", "HEAD")
    run_dir = only_run_dir(project / "logs")
    assert run_dir.name == version
    git_record = read_json(run_dir / "provenance.json")["entries"][0]["git"]
    assert git_record["sha"] == head
    assert git_record["committed_before_fit"] is True
    assert git_record["dirty"] is True, "the secrets stay uncommitted"
    assert api_key not in git(project, "show", "HEAD") + (run_dir / "git.diff").read_text()
    assert git_record["secrets_not_in_diff"] == {"configs/api_keys.yaml": ANY}
    [line] = [line for line in result.stderr.splitlines() if "hold secrets" in line]
    assert "configs/api_keys.yaml" in line
    left = git(project, "ls-files", "--modified", "--others", "--exclude-standard").split()
    assert sorted(left) == ["configs/api_keys.yaml", "src/.ssh/config", "src/service_account.json"]


def test_cli_outside_a_repository_warns_and_trains(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    logs = tmp_path / "logs"
    configs = ["-c", str(ROOT / TOY[1]), "-c", str(ROOT / TOY[3])]
    run_cli(
        "fit",
        *configs,
        "--run.root",
        str(logs),
        *TINY,
        "--git_commit_before_fit",
        "true",
    )
    run_dir = only_run_dir(logs)
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("not inside a git repository" in message for message in warnings), warnings
    assert "error" in read_json(run_dir / "provenance.json")["entries"][0]["git"]

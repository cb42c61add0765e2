"""provenance.json: what a fit records, the patch of a dirty tree, resume entries, entry points."""

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT, TINY, TOY, git, only_run_dir, read_json, run_cli, run_main
from runforge.git.commit import GitCommit
from runforge.records.provenance import Provenance, entry_point, installed_packages


@pytest.fixture
def repo(git_repo):
    """The test repository with a modified file and a new file."""
    (git_repo / "train.py").write_text("LR = 0.2\n")
    (git_repo / "src").mkdir()
    (git_repo / "src" / "extra.py").write_text("EXTRA = True\n")
    return git_repo


def test_record_of_a_dirty_tree(repo, monkeypatch):
    monkeypatch.setenv("PL_GLOBAL_SEED", "7")
    run_dir = repo / "logs" / "exp" / "v1"
    entry = Provenance(command=["src/main.py", "fit"], cwd=repo).record(run_dir)
    assert read_json(run_dir / "provenance.json") == {"format": 1, "entries": [entry]}
    assert entry["kind"] == "start" and entry["ckpt_path"] is None
    assert entry["command"] == ["src/main.py", "fit"]
    assert entry["seed"] == 7
    assert entry["hostname"] and entry["started_at"][:2] == "20"
    assert entry["git"]["sha"] == git(repo, "rev-parse", "HEAD")
    assert entry["git"]["dirty"] is True
    assert entry["git"]["untracked"] == ["src/extra.py"]
    patch = (run_dir / entry["git"]["diff"]).read_text()
    assert "-LR = 0.1" in patch and "+LR = 0.2" in patch and "+EXTRA = True" in patch
    # The patch restores the run's code on top of the recorded commit.
    git(repo, "stash", "-u", "-q")
    git(repo, "apply", str(run_dir / "git.diff"))
    assert (repo / "train.py").read_text() == "LR = 0.2\n"
    assert (repo / "src" / "extra.py").read_text() == "EXTRA = True\n"
    import lightning
    import torch

    assert entry["versions"]["torch"] == torch.__version__
    assert entry["versions"]["lightning"] == lightning.__version__
    assert entry["versions"]["python"] == "{}.{}.{}".format(*sys.version_info[:3])
    assert "cuda" in entry["versions"]
    assert f"torch=={importlib.metadata.version('torch')}" in entry["packages"]


def test_resume_appends_and_keeps_the_first_record(repo):
    run_dir = repo / "logs" / "exp" / "v1"
    first = Provenance(cwd=repo).record(run_dir)
    first_text = (run_dir / "git.diff").read_text()
    (repo / "train.py").write_text("LR = 0.3\n")
    second = Provenance(cwd=repo).record(run_dir, ckpt_path="last.ckpt")
    entries = read_json(run_dir / "provenance.json")["entries"]
    assert entries == [first, second]
    assert second["kind"] == "resume" and second["ckpt_path"] == "last.ckpt"
    assert second["git"]["diff"] == "git-1.diff"
    assert (run_dir / "git.diff").read_text() == first_text
    assert "+LR = 0.3" in (run_dir / "git-1.diff").read_text()


def test_git_commit_runs_before_the_sha_is_read(repo):
    run_dir = repo / "logs" / "exp" / "v1"
    before = git(repo, "rev-parse", "HEAD")
    step = GitCommit("Run exp/v1", cwd=repo)
    entry = Provenance(cwd=repo).record(run_dir, git_commit=step)
    assert entry["git"]["sha"] == git(repo, "rev-parse", "HEAD") != before
    assert entry["git"]["committed_before_fit"] is True
    assert entry["git"]["dirty"] is False and "diff" not in entry["git"]
    assert not (run_dir / "git.diff").exists()


def test_outside_a_repository_the_error_is_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    entry = Provenance(cwd=tmp_path).record(tmp_path / "run")
    assert "not inside a git repository" in entry["git"]["error"]


def test_installed_packages_look_like_pip_freeze():
    packages = installed_packages()
    names = [re.sub(r"[-_.]+", "-", line.split("==")[0]).lower() for line in packages]
    assert names == sorted(set(names)), "sorted by normalised name, each once"
    assert all(line.count("==") == 1 for line in packages)
    assert any(line.lower().startswith("lightning==") for line in packages)


def test_pytest_itself_is_not_an_entry_point(monkeypatch):
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert entry_point() is None


def test_vscode_notebook_is_copied(tmp_path, monkeypatch):
    notebook = tmp_path / "explore.ipynb"
    notebook.write_text('{"cells": []}')
    monkeypatch.setattr(sys.modules["__main__"], "__vsc_ipynb_file__", str(notebook), raising=False)
    assert entry_point() == ("notebook", notebook.resolve())
    run_dir = tmp_path / "run"
    entry = Provenance(cwd=tmp_path).record(run_dir)
    assert entry["entry_point"] == {
        "kind": "notebook",
        "source": str(notebook.resolve()),
        "copy": "explore.ipynb",
    }
    assert (run_dir / "explore.ipynb").read_text() == '{"cells": []}'
    notebook.write_text('{"cells": [1]}')  # edited before a resume: kept beside the first copy
    assert Provenance(cwd=tmp_path).record(run_dir)["entry_point"]["copy"] == "explore-1.ipynb"
    assert (run_dir / "explore.ipynb").read_text() == '{"cells": []}'


def test_jupyter_notebook_is_found_from_the_session_name(tmp_path, monkeypatch):
    notebook = tmp_path / "lab.ipynb"
    notebook.write_text("{}")
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))
    assert entry_point() == ("notebook", notebook.resolve())
    monkeypatch.setenv("PWD", str(tmp_path))
    monkeypatch.setenv("JPY_SESSION_NAME", "lab.ipynb")  # relative to the server's folder
    assert entry_point() == ("notebook", notebook.resolve())


def test_template_main_is_not_an_entry_point(tmp_path):
    """A real `python src/main.py fit` records no entry point and copies nothing."""
    logs = tmp_path / "logs"
    done = run_main("fit", *TOY, "--run.root", str(logs), *TINY)
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = only_run_dir(logs)
    [entry] = read_json(run_dir / "provenance.json")["entries"]
    assert entry["command"][0].endswith("src/main.py")
    assert entry["entry_point"] is None
    assert not list(run_dir.glob("*.py")) and not list(run_dir.glob("*.ipynb"))


def test_fit_and_resume_through_the_cli(tmp_path):
    logs = tmp_path / "logs"
    args = ["fit", *TOY, "--run.root", str(logs), *TINY]
    run_cli(*args)
    run_dir = only_run_dir(logs)
    [first] = read_json(run_dir / "provenance.json")["entries"]
    assert first["command"] == ["src/main.py", *args]
    assert first["seed"] == 42 and first["kind"] == "start"
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    run_cli("fit", *TOY, *TINY, "--trainer.max_epochs", "2", "--ckpt_path", str(ckpt))
    entries = read_json(run_dir / "provenance.json")["entries"]
    assert entries[0] == first
    assert entries[1]["kind"] == "resume" and entries[1]["ckpt_path"] == str(ckpt)


@pytest.mark.slow
def test_a_training_script_is_copied_into_the_run(tmp_path):
    """A real process launched from a user's script (not src/main.py) keeps a copy of it."""
    logs = tmp_path / "logs"
    script = tmp_path / "my_experiment.py"
    configs = [str(ROOT / TOY[1]), str(ROOT / TOY[3])]
    script.write_text(
        "from runforge import main\n"
        f"main(['fit', '-c', {configs[0]!r}, '-c', {configs[1]!r}, '--run.root', {str(logs)!r},"
        f" *{TINY!r}])\n"
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    env.pop("RUN_VERSION", None)
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_dir = only_run_dir(logs)
    [entry] = read_json(run_dir / "provenance.json")["entries"]
    assert entry["entry_point"]["kind"] == "script"
    assert Path(entry["entry_point"]["source"]) == script.resolve()
    assert (run_dir / "my_experiment.py").read_text() == script.read_text()
    assert entry["command"][0] == str(script)


def test_the_patch_holds_new_code_files_only_never_secrets(repo):
    (repo / "secrets.json").write_text('{"key": "s3cr3t"}\n')
    (repo / "src" / ".env.local").write_text("API_KEY=s3cr3t\n")
    (repo / "notes.txt").write_text("not code\n")
    run_dir = repo / "logs" / "exp" / "v1"
    entry = Provenance(command=["src/main.py", "fit"], cwd=repo).record(run_dir)
    patch = (run_dir / entry["git"]["diff"]).read_text()
    assert "+EXTRA = True" in patch and "s3cr3t" not in patch and "not code" not in patch
    left_out = set(entry["git"]["untracked_not_in_diff"])
    assert {"secrets.json", "src/.env.local", "notes.txt"} <= left_out

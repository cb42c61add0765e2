"""scripts/clear_wandb_cache.py on real offline W&B run folders; the server faked at wandb.Api."""

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import wandb

from helpers import ROOT

SCRIPT = ROOT / "scripts" / "clear_wandb_cache.py"
DELETED, ALIVE, UNSYNCED = "deleted1", "alive001", "unsync01"


def load_script():
    spec = importlib.util.spec_from_file_location("clear_wandb_cache", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def wandb_runs(tmp_path_factory):
    """A logs tree with three real offline W&B runs; two of them marked as synced."""
    logs = tmp_path_factory.mktemp("wandb") / "logs"
    run_dir = logs / "exp" / "v1"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"weights")
    (run_dir / "config.yaml").write_text("seed_everything: 42\n")
    env = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DIR": str(run_dir)}
    old = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        for run_id in (DELETED, ALIVE, UNSYNCED):
            run = wandb.init(dir=run_dir, project="proj", entity="ent", id=run_id, mode="offline")
            run.log({"x": 1.0})
            run.finish()
        wandb.teardown()  # returns once the service has written the run files out
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    for folder in (run_dir / "wandb").glob("offline-run-*"):
        run_id = folder.name.rsplit("-", 1)[-1]
        if run_id != UNSYNCED:  # what `wandb sync` leaves behind
            (folder / f"run-{run_id}.wandb.synced").touch()
    return logs


@pytest.fixture
def logs(wandb_runs, tmp_path):
    copy = tmp_path / "logs"
    shutil.copytree(wandb_runs, copy, symlinks=True)
    return copy


@pytest.fixture
def server(monkeypatch):
    """wandb.Api replaced by a fake that knows every run except DELETED; records the questions."""
    asked = []

    class FakeApi:
        def __init__(self, *args, **kwargs):
            pass

        def run(self, path):
            asked.append(path)
            if path.endswith(DELETED):
                raise wandb.errors.CommError(f"Could not find run {path}")
            return object()

    monkeypatch.setattr(wandb, "Api", FakeApi)
    return asked


def folder_of(logs, run_id):
    [folder] = logs.glob(f"*/*/wandb/*-{run_id}")
    return folder


def remaining(logs):
    return sorted(p.name.rsplit("-", 1)[-1] for p in logs.glob("*/*/wandb/*run-*"))


def test_dry_run_lists_deleted_runs_and_removes_nothing(logs, server, capsys):
    assert load_script().main([str(logs)]) == 0
    out = capsys.readouterr().out
    assert sorted(server) == ["ent/proj/alive001", "ent/proj/deleted1"]
    assert f"would remove  {folder_of(logs, DELETED)}" in out
    assert "deleted on the server" in out and "pass --yes" in out
    assert "Kept 1 offline run(s) never synced" in out
    assert remaining(logs) == sorted([DELETED, ALIVE, UNSYNCED])


def test_yes_removes_only_the_deleted_run_folder(logs, server, capsys):
    deleted = folder_of(logs, DELETED)
    assert load_script().main([str(logs), "--yes"]) == 0
    assert not deleted.exists()
    assert remaining(logs) == sorted([ALIVE, UNSYNCED])
    run_dir = logs / "exp" / "v1"
    assert (run_dir / "checkpoints" / "last.ckpt").read_bytes() == b"weights"
    assert (run_dir / "config.yaml").is_file()
    assert "Freed" in capsys.readouterr().out


def test_unsynced_runs_go_only_when_asked(logs, server):
    assert load_script().main([str(logs), "--yes", "--include-unsynced"]) == 0
    assert remaining(logs) == [ALIVE]


def test_older_than_removes_old_synced_runs_without_asking(logs, server, capsys):
    old = time.time() - 40 * 86400
    for run_id in (ALIVE, UNSYNCED):
        folder = folder_of(logs, run_id)
        for path in [folder, *folder.rglob("*")]:
            os.utime(path, (old, old), follow_symlinks=False)
    script = load_script()
    assert script.main([str(logs), "--older-than", "30", "--yes"]) == 0
    assert server == ["ent/proj/deleted1"], "an old run needs no server check"
    assert remaining(logs) == [UNSYNCED], "never-synced runs need --include-unsynced"
    assert "older than 30 days" in capsys.readouterr().out
    assert script.main([str(logs), "--older-than", "30", "--include-unsynced", "--yes"]) == 0
    assert remaining(logs) == []


def test_recent_unsynced_runs_stay_with_older_than(logs, server):
    args = [str(logs), "--older-than", "30", "--include-unsynced", "--yes"]
    assert load_script().main(args) == 0
    assert remaining(logs) == sorted([ALIVE, UNSYNCED])


@pytest.mark.parametrize(
    "failure",
    ["no-credentials", "unreachable"],
)
def test_without_server_one_line_error_and_nothing_removed(logs, monkeypatch, capsys, failure):
    if failure == "no-credentials":

        def api(*args, **kwargs):
            raise wandb.errors.UsageError("No API key configured. Use `wandb login` to log in.")

    else:

        class api:  # noqa: N801
            def __init__(self, *args, **kwargs):
                pass

            def run(self, path):
                raise wandb.errors.CommError("network", exc=requests.ConnectionError("refused"))

    monkeypatch.setattr(wandb, "Api", api)
    assert load_script().main([str(logs), "--yes"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert remaining(logs) == sorted([DELETED, ALIVE, UNSYNCED])


def test_real_api_without_credentials_is_a_clear_error(logs, tmp_path):
    """The script as a process, from another folder, with no W&B key anywhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(HOME=str(tmp_path), WANDB_CONFIG_DIR=str(tmp_path / "cfg"), NETRC=os.devnull)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(logs)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert remaining(logs) == sorted([DELETED, ALIVE, UNSYNCED])


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--older-than", "-1"], "--older-than -1"),
        (["--older-than", "nan"], "--older-than nan"),
        (["/"], "/ is the file system root or your home folder"),
        ([str(Path.home())], "is the file system root or your home folder"),
    ],
)
def test_dangerous_arguments_are_refused_in_one_line(logs, server, capsys, args, named):
    before = sorted(p.relative_to(logs) for p in logs.rglob("*"))
    assert load_script().main([str(logs), *args] if args[0].startswith("--") else args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and named in err
    assert sorted(p.relative_to(logs) for p in logs.rglob("*")) == before


def test_a_folder_without_wandb_run_files_is_refused(tmp_path, capsys):
    lookalike = tmp_path / "logs" / "exp" / "v1" / "wandb" / "run-20240101_000000-notwandb"
    lookalike.mkdir(parents=True)
    (lookalike / "notes.txt").write_text("mine")
    assert load_script().main([str(tmp_path / "logs"), "--yes"]) == 2
    assert "holds no W&B run folders" in capsys.readouterr().err
    assert (lookalike / "notes.txt").read_text() == "mine"

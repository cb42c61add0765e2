"""Run directories and how --ckpt_path picks the run and checkpoint."""

import os
import secrets
import time

import pytest
import torch

from runforge.runs import RunDirectory, RunError
from runforge.runs.directory import VERSION_ENV, new_version
from runforge.runs.resolve import resolve_run


def _make_run(root, version, files=("last.ckpt",)):
    run = RunDirectory(root=str(root), name="exp", version=version)
    run.checkpoints.mkdir(parents=True)
    (run.path / "config.yaml").write_text("seed_everything: 42\n")
    for name in files:
        torch.save({"callbacks": {}}, run.checkpoints / name)
    return run


def test_versions_started_in_the_same_second_differ(tmp_path, monkeypatch):
    monkeypatch.setattr(time, "strftime", lambda _: "20260101-000000")
    versions = {new_version(tmp_path) for _ in range(200)}
    assert len(versions) == 200


def test_a_taken_version_is_never_returned(tmp_path, monkeypatch):
    suffixes = iter(["aaaaaaaa", "aaaaaaaa", "bbbbbbbb"])
    monkeypatch.setattr(time, "strftime", lambda _: "20260101-000000")
    monkeypatch.setattr(secrets, "token_hex", lambda _: next(suffixes))
    (tmp_path / "20260101-000000-aaaaaaaa").mkdir()
    assert new_version(tmp_path) == "20260101-000000-bbbbbbbb"


def test_other_ranks_reuse_the_launching_process_version(tmp_path, monkeypatch):
    launched = new_version(tmp_path)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert new_version(tmp_path) == launched == os.environ[VERSION_ENV]


@pytest.mark.parametrize("rank", ["0", "1"])
def test_every_torchrun_process_names_the_run_after_the_launch(tmp_path, monkeypatch, rank):
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "8f0c2a")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", rank)
    assert new_version(tmp_path) == "torchrun-8f0c2a"


def test_torchrun_without_a_shared_id_asks_for_a_version(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "none")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RunError, match="--run.version"):
        new_version(tmp_path)


@pytest.mark.parametrize(
    ("job_name", "tasks", "expected"),
    [
        ("train", "4", "slurm-77"),  # a batch job: the same run after a requeue
        ("train", "1", "slurm-77"),
        ("interactive", "4", "slurm-77.3"),  # srun in an interactive allocation: the step
        ("bash", "1", None),  # one process in an interactive shell: a fresh version
    ],
)
def test_a_slurm_job_or_multi_task_step_names_the_run(
    tmp_path, monkeypatch, job_name, tasks, expected
):
    env = {"SLURM_JOB_ID": "77", "SLURM_STEP_ID": "3", "SLURM_NTASKS": tasks}
    for name, value in {**env, "SLURM_JOB_NAME": job_name}.items():
        monkeypatch.setenv(name, value)
    version = new_version(tmp_path)
    assert version == expected if expected else version.startswith(time.strftime("%Y"))


def test_fit_refuses_a_launch_id_that_names_a_run_with_checkpoints(tmp_path, monkeypatch):
    _make_run(tmp_path, "torchrun-job42")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job42")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(RunError, match="already has checkpoints"):
        resolve_run(RunDirectory(root=str(tmp_path), name="exp"), None, "fit")


@pytest.mark.parametrize("bad", ["a/b", "..", "", "x\\y"])
def test_names_must_be_plain_folder_names(bad):
    with pytest.raises(RunError, match="run.version"):
        RunDirectory(version=bad)
    with pytest.raises(RunError, match="run.name"):
        RunDirectory(name=bad)


def test_quotes_and_shell_syntax_are_ordinary_names(tmp_path):
    run = RunDirectory(root=str(tmp_path), version='x"$(touch PWNED)"')
    assert run.path == tmp_path / "default" / 'x"$(touch PWNED)"'


def test_a_checkpoints_folder_outside_a_run_is_not_taken_for_one(tmp_path, monkeypatch):
    (tmp_path / "pretrained" / "checkpoints").mkdir(parents=True)
    ckpt = tmp_path / "pretrained" / "checkpoints" / "model.ckpt"
    torch.save({"callbacks": {}}, ckpt)
    wanted = RunDirectory(root=str(tmp_path / "logs"), name="mine")
    resolved, _ = resolve_run(wanted, str(ckpt), "test")
    assert resolved.path.parent == tmp_path / "logs" / "mine"
    run = _make_run(tmp_path, "v1")  # given relative to its experiment folder
    relative = run.checkpoints.relative_to(tmp_path / "exp") / "last.ckpt"
    monkeypatch.chdir(tmp_path / "exp")
    assert RunDirectory.of_checkpoint(relative) == RunDirectory(str(tmp_path), "exp", "v1")


def test_checkpoint_inside_a_run_selects_that_run(tmp_path):
    run = _make_run(tmp_path, "v1")
    resolved, ckpt = resolve_run(
        RunDirectory(root="elsewhere"), str(run.checkpoints / "last.ckpt"), "test"
    )
    assert resolved == run and ckpt == str(run.checkpoints / "last.ckpt")


def test_checkpoint_outside_a_run_starts_a_new_run(tmp_path):
    loose = tmp_path / "model.ckpt"
    torch.save({}, loose)
    resolved, ckpt = resolve_run(RunDirectory(root=str(tmp_path)), str(loose), "test")
    assert resolved.version is not None and ckpt == str(loose)


def test_last_without_version_picks_the_newest_run(tmp_path):
    old = _make_run(tmp_path, "old")
    new = _make_run(tmp_path, "new")
    past = time.time() - 100
    os.utime(old.checkpoints / "last.ckpt", (past, past))
    resolved, ckpt = resolve_run(RunDirectory(root=str(tmp_path), name="exp"), "last", "fit")
    assert resolved == new and ckpt == str(new.checkpoints / "last.ckpt")


def test_last_with_version_uses_that_run(tmp_path):
    old = _make_run(tmp_path, "old")
    _make_run(tmp_path, "new")
    resolved, _ = resolve_run(old, "last", "fit")
    assert resolved == old


def test_best_reads_the_path_recorded_in_last(tmp_path):
    run = _make_run(tmp_path, "v1", files=("epoch3.ckpt",))
    best = run.checkpoints / "epoch3.ckpt"
    state = {
        "ModelCheckpoint{'monitor': None}": {"monitor": None, "best_model_path": "last.ckpt"},
        "ModelCheckpoint{'monitor': 'val/acc'}": {
            "monitor": "val/acc",
            "best_model_path": str(best),
        },
    }
    torch.save({"callbacks": state}, run.checkpoints / "last.ckpt")
    assert resolve_run(run, "best", "test") == (run, str(best))


@pytest.mark.parametrize(
    ("ckpt", "message"),
    [("last", "no run of"), ("best", "no run of"), ("nope.ckpt", "nope.ckpt: file not found")],
)
def test_missing_checkpoints_are_clear_errors(tmp_path, ckpt, message):
    with pytest.raises(RunError, match=message):
        resolve_run(RunDirectory(root=str(tmp_path)), ckpt, "fit")


def test_fit_refuses_to_start_over_in_a_run_with_checkpoints(tmp_path):
    run = _make_run(tmp_path, "v1")
    with pytest.raises(RunError, match="--ckpt_path last"):
        resolve_run(run, None, "fit")
    with pytest.warns(UserWarning, match="untrained weights"):
        assert resolve_run(run, None, "test") == (run, None)

"""SLURM: a batch job names its run; a requeued job resumes it in the same directory."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from helpers import ROOT, TOY, only_run_dir, read_json, run_main
from runforge.runs import RunDirectory
from runforge.runs.directory import RunError
from runforge.runs.resolve import resolve_run
from runforge.runs.slurm import requeued_checkpoint

#: What srun gives the one task of a single-GPU batch job (the job's name is the script's).
SLURM_ENV = {
    "SLURM_JOB_ID": "4242",
    "SLURM_JOB_NAME": "train.sbatch",
    "SLURM_NTASKS": "1",
    "SLURM_STEP_ID": "0",
    "SLURM_PROCID": "0",
    "SLURM_LOCALID": "0",
    "SLURM_NODEID": "0",
    "SLURM_NODELIST": "localhost",
}


def _run_with_checkpoints(root: Path, version: str) -> RunDirectory:
    run = RunDirectory(root=str(root), name="exp", version=version)
    run.checkpoints.mkdir(parents=True)
    (run.checkpoints / "last.ckpt").write_bytes(b"epoch end")
    return run


def test_only_a_requeued_batch_job_resumes(tmp_path, monkeypatch):
    run = _run_with_checkpoints(tmp_path, "slurm-4242")
    last = run.checkpoints / "last.ckpt"
    for name, value in SLURM_ENV.items():
        monkeypatch.setenv(name, value)
    # The job's first start: a second fit in the same job must not take over this run.
    with pytest.raises(RunError, match="already has checkpoints"):
        resolve_run(RunDirectory(root=str(tmp_path), name="exp"), None, "fit")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    assert resolve_run(RunDirectory(root=str(tmp_path), name="exp"), None, "fit") == (
        run,
        str(last),
    )
    monkeypatch.setenv("SLURM_JOB_NAME", "interactive")  # Lightning would not requeue it
    assert requeued_checkpoint(run.path, last) is None


def test_the_newest_of_the_signal_and_epoch_checkpoints_is_resumed(tmp_path, monkeypatch):
    run = _run_with_checkpoints(tmp_path, "slurm-4242")
    last = run.checkpoints / "last.ckpt"
    for name, value in {**SLURM_ENV, "SLURM_RESTART_COUNT": "2"}.items():
        monkeypatch.setenv(name, value)
    hpc = run.path / "hpc_ckpt_1.ckpt"
    hpc.write_bytes(b"on SIGUSR1")
    os.utime(last, (time.time() - 60, time.time() - 60))
    assert requeued_checkpoint(run.path, last) == hpc
    os.utime(hpc, (time.time() - 120, time.time() - 120))  # an epoch ended after the signal
    assert requeued_checkpoint(run.path, last) == last


def _wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"the fit ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_job_requeued_on_sigusr1_resumes_in_the_same_run(tmp_path):
    bin_dir, logs, calls = tmp_path / "bin", tmp_path / "logs", tmp_path / "scontrol.log"
    bin_dir.mkdir()
    scontrol = bin_dir / "scontrol"  # records the requeue instead of asking SLURM
    scontrol.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    scontrol.chmod(0o755)
    env = {**SLURM_ENV, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    fit = ["fit", *TOY, "--trainer.accelerator", "cpu", "--trainer.max_epochs", "6"]
    fit += ["--run.root", str(logs)]
    run = logs / "default" / "slurm-4242"
    last = run / "checkpoints" / "last.ckpt"

    with open(tmp_path / "first.log", "w") as output:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "src" / "main.py"), *fit],
            cwd=ROOT, env={**os.environ, **env, "PYTHONWARNINGS": "ignore"},
            stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            _wait_for(last.is_file, proc, "the first epoch")
            proc.send_signal(signal.SIGUSR1)  # SLURM, 90 s before the time limit
            _wait_for(calls.is_file, proc, "the requeue")
            proc.send_signal(signal.SIGTERM)  # SLURM stops the job it requeues
            proc.wait(timeout=120)
        finally:
            proc.kill()
    assert calls.read_text().split() == ["requeue", "4242"]
    assert not list(run.glob("hpc_ckpt_*")), "Lightning's own handler stayed out of it"
    steps_per_epoch = -(-1150 // 64)
    stopped_at = torch.load(last, weights_only=True)["global_step"]
    assert 0 < stopped_at < 6 * steps_per_epoch  # SIGTERM saves where it stops, even mid-epoch

    # The requeued job runs the same command with the same job id.
    resumed = run_main(*fit, env={**env, "SLURM_RESTART_COUNT": "1"})
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert only_run_dir(logs) == run
    assert f"resuming {last}" in resumed.stderr
    final = torch.load(last, weights_only=True)
    assert (final["epoch"], final["global_step"]) == (5, 6 * steps_per_epoch)
    kinds = [entry["kind"] for entry in read_json(run / "provenance.json")["entries"]]
    assert kinds == ["start", "resume"]

    # The same weights as a run never stopped (bit-exact resume).
    uninterrupted = run_main(*fit[:-1], str(tmp_path / "uninterrupted"))
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]
    reference = only_run_dir(tmp_path / "uninterrupted") / "checkpoints" / "last.ckpt"
    expected = torch.load(reference, weights_only=True)["state_dict"]
    assert all(torch.equal(final["state_dict"][k], v) for k, v in expected.items())


def test_the_requeue_callback_leaves_the_signal_alone_outside_slurm():
    from runforge.callbacks import SLURMRequeue

    before = signal.getsignal(signal.SIGUSR1)
    SLURMRequeue().setup(trainer=None, pl_module=None, stage="fit")
    assert signal.getsignal(signal.SIGUSR1) is before


@pytest.mark.slow
def test_the_batch_script_runs_a_fit_sized_from_the_allocation(tmp_path):
    bin_dir, logs = tmp_path / "bin", tmp_path / "logs"
    bin_dir.mkdir()
    srun = bin_dir / "srun"  # runs the one task here, leaving out srun's own options
    srun.write_text('#!/bin/sh\nwhile [ "${1#--}" != "$1" ]; do shift; done\nexec "$@"\n')
    srun.chmod(0o755)
    env = {**os.environ, **SLURM_ENV, "SLURM_JOB_NUM_NODES": "1", "SLURM_NTASKS_PER_NODE": "1"}
    env.update(SLURM_SUBMIT_DIR=str(ROOT), PYTHON=sys.executable, PYTHONWARNINGS="ignore")
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "slurm" / "train.sbatch"), *TOY,
         "--trainer.accelerator", "cpu", "--trainer.max_epochs", "1",
         "--trainer.limit_train_batches", "2", "--run.root", str(logs)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "job 4242, start 0: 1 node(s) x 1 process(es)" in result.stdout
    run = only_run_dir(logs)
    assert run.name == "slurm-4242" and (run / "checkpoints" / "last.ckpt").is_file()
    trainer = yaml.safe_load((run / "config.yaml").read_text())["trainer"]
    assert (trainer["num_nodes"], int(trainer["devices"])) == (1, 1)  # "8" means 8 GPUs

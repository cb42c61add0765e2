"""One writer per run: `<run>/run.lock` refuses a second writer and is taken over when stale."""

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys

import pytest
import torch

from helpers import TINY, TOY, read_json, run_cli, run_main, start_script, wait_for
from runforge.runs import RunError
from runforge.runs.lock import LOCK_NAME, RunLock, _process_start, holder


@pytest.fixture
def sleeper():
    """A live process of this host that is not this one (killed afterwards)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    yield process
    process.kill()
    process.wait()


def dead_pid() -> int:
    """The pid of a process of this host that has ended."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def write_lock(run, **fields) -> dict:
    """Put a lock file into `run` as another process would have written it."""
    owner = {**holder(["main.py", "fit"]), "since": "2026-11-25T10:00:00+00:00", **fields}
    run.mkdir(parents=True, exist_ok=True)
    (run / LOCK_NAME).write_text(json.dumps(owner))
    return owner


def test_the_lock_names_its_holder_and_is_gone_after_release(tmp_path):
    run = tmp_path / "logs" / "default" / "v1"
    lock = RunLock()
    lock.take(run, ["src/main.py", "fit", "-c", "x.yaml"])
    owner = read_json(run / LOCK_NAME)
    assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
    assert owner["command"] == "main.py fit -c x.yaml" and owner["since"]
    assert lock.created == [run, run.parent, run.parent.parent]
    lock.release()
    assert not (tmp_path / "logs").exists(), "folders made for the lock alone are removed"
    lock.release()  # twice is harmless


def test_a_run_held_by_a_live_process_is_refused(tmp_path, sleeper):
    run = tmp_path / "v1"
    write_lock(run, pid=sleeper.pid, process_start=_process_start(sleeper.pid))
    before = (run / LOCK_NAME).read_text()
    with pytest.raises(RunError) as refused:
        RunLock().take(run)
    message = str(refused.value)
    assert f"process {sleeper.pid} on {socket.gethostname()}" in message
    assert "since 2026-11-25T10:00:00+00:00 (`main.py fit`)" in message
    assert f"kill {sleeper.pid}" in message and "\n" not in message
    assert (run / LOCK_NAME).read_text() == before


def test_a_second_writer_in_the_same_process_is_refused(tmp_path):
    first = RunLock()
    first.take(tmp_path / "v1")
    with pytest.raises(RunError, match=f"process {os.getpid()} "):
        RunLock().take(tmp_path / "v1")
    first.release()
    assert not (tmp_path / "v1").exists()


def test_a_lock_of_another_host_is_never_taken_over(tmp_path):
    run = tmp_path / "v1"
    write_lock(run, host="gpu-node-7", pid=1)
    with pytest.raises(RunError) as refused:
        RunLock().take(run)
    assert "process 1 on gpu-node-7" in str(refused.value)
    assert f"delete {(run / LOCK_NAME).absolute()}" in str(refused.value)
    assert read_json(run / LOCK_NAME)["host"] == "gpu-node-7"


def test_a_lock_of_a_dead_process_is_taken_over_with_a_warning(tmp_path):
    write_lock(tmp_path, pid=(dead := dead_pid()))
    lock = RunLock()
    with pytest.warns(UserWarning, match=f"process {dead} no longer runs"):
        lock.take(tmp_path)
    assert read_json(tmp_path / LOCK_NAME)["pid"] == os.getpid()
    assert not list(tmp_path.glob(f"{LOCK_NAME}.*")), "no file is left beside the lock"
    lock.release()
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_pid_now_used_by_another_process_is_stale(tmp_path, sleeper):
    write_lock(tmp_path, pid=sleeper.pid, process_start="an-earlier-boot:12")
    lock = RunLock()
    with pytest.warns(UserWarning, match="the pid now belongs to another process"):
        lock.take(tmp_path)
    lock.release()


def test_a_lock_is_given_back_when_its_holder_is_dropped(tmp_path):
    RunLock().take(tmp_path)  # never released, as by a `CLI(run=False)` whose caller forgot
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_lock_this_process_left_behind_is_taken_over(tmp_path):
    write_lock(tmp_path, pid=os.getpid())
    lock = RunLock()
    with pytest.warns(UserWarning, match="this process left it"):
        lock.take(tmp_path)
    lock.release()


def test_a_requeued_slurm_job_takes_over_its_earlier_start(tmp_path, monkeypatch):
    for name, value in {
        "SLURM_JOB_ID": "77",
        "SLURM_NTASKS": "1",
        "SLURM_JOB_NAME": "train",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    write_lock(tmp_path, host="node-1", pid=1, slurm_job="77", slurm_restart=1)
    with pytest.raises(RunError, match="node-1"):  # the same start of the job: another node
        RunLock().take(tmp_path)
    write_lock(tmp_path, host="node-1", pid=1, slurm_job="77", slurm_restart=0)
    lock = RunLock()
    with pytest.warns(UserWarning, match="an earlier start of SLURM job 77 left it"):
        lock.take(tmp_path)
    lock.release()


def test_an_unreadable_lock_is_refused(tmp_path):
    (tmp_path / LOCK_NAME).write_text("")
    with pytest.raises(RunError, match="cannot be read: if no process writes"):
        RunLock().take(tmp_path)


def test_other_ranks_share_the_lock_of_rank_zero(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "1")  # as Lightning starts the processes of more devices
    lock = RunLock()
    lock.take(tmp_path / "v1")
    assert not (tmp_path / "v1").exists() and lock.created == []


def test_release_keeps_a_lock_that_another_process_took_over(tmp_path):
    lock = RunLock()
    lock.take(tmp_path)
    write_lock(tmp_path, pid=12345)
    lock.release()
    assert read_json(tmp_path / LOCK_NAME)["pid"] == 12345


def _take_stale(run, start, results) -> None:
    lock = RunLock()
    start.wait()
    try:
        lock.take(run)
        results.put("taken")
    except RunError:
        results.put("refused")
    start.wait()  # hold it until every process has tried
    os._exit(0)


def test_of_processes_taking_over_one_stale_lock_only_one_gets_it(tmp_path):
    write_lock(tmp_path, pid=dead_pid())
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(6), context.SimpleQueue()
    processes = [
        context.Process(target=_take_stale, args=(tmp_path, start, results)) for _ in range(6)
    ]
    for process in processes:
        process.start()
    outcomes = sorted(results.get() for _ in processes)
    for process in processes:
        process.join(timeout=60)
    assert outcomes == ["refused"] * 5 + ["taken"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished one-epoch run, `logs/default/v1`."""
    logs = tmp_path_factory.mktemp("locked") / "logs"
    run_cli("fit", *TOY, *TINY, "--run.root", str(logs), "--run.version", "v1")
    return logs / "default" / "v1"


def test_a_finished_fit_leaves_no_lock(trained):
    assert (trained / "checkpoints" / "last.ckpt").is_file()
    assert not (trained / LOCK_NAME).exists()


@pytest.mark.parametrize("subcommand", ["fit", "test"])
def test_the_cli_refuses_to_write_a_run_in_use(trained, sleeper, subcommand, capsys):
    files = sorted(p.name for p in trained.rglob("*"))
    write_lock(trained, pid=sleeper.pid, process_start=_process_start(sleeper.pid))
    try:
        with pytest.raises(SystemExit) as refused:
            run_cli(subcommand, "-c", str(trained / "config.yaml"), "--ckpt_path", "last")
    finally:
        (trained / LOCK_NAME).unlink()
    assert refused.value.code == 2
    [error] = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]
    assert error.startswith(f"error: {trained} is in use by process {sleeper.pid} on ")
    assert sorted(p.name for p in trained.rglob("*")) == files, "nothing was written"


@pytest.mark.slow
def test_a_second_writer_of_a_running_fit_is_refused_until_the_fit_is_killed(tmp_path):
    logs = tmp_path / "logs"
    run = logs / "default" / "v1"
    # Slow epochs (a wide network), so that the first fit is far from done while others try.
    slow = ["--trainer.max_epochs", "1000", "--trainer.limit_train_batches", "5"]
    slow += ["--model.net.channels", "[128, 256]"]
    first = start_script("main.py", "fit", *TOY, *slow, "--run.root", str(logs),
                         "--run.version", "v1")  # fmt: skip
    try:
        wait_for(run / "checkpoints" / "last.ckpt", first)
        assert read_json(run / LOCK_NAME)["pid"] == first.pid
        for subcommand in ("fit", "test"):
            second = run_main(subcommand, "-c", str(run / "config.yaml"), "--ckpt_path", "last")
            assert second.returncode == 2, second.stderr[-3000:]
            [error] = [line for line in second.stderr.splitlines() if "error" in line.lower()]
            assert f"is in use by process {first.pid} on {socket.gethostname()}" in error
        assert first.poll() is None, "the first fit runs on"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    finally:
        first.kill()
        first.communicate()
    assert read_json(run / LOCK_NAME)["pid"] == first.pid, "SIGKILL leaves the lock behind"
    epoch = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["epoch"]
    resume = run_main(
        "fit", "-c", str(run / "config.yaml"), "--ckpt_path", "last",
        "--trainer.max_epochs", str(epoch + 3), env={"PYTHONWARNINGS": "default"},
    )  # fmt: skip
    assert resume.returncode == 0, resume.stderr[-3000:]
    assert f"took over {run.absolute() / LOCK_NAME}" in resume.stderr
    assert f"process {first.pid} no longer runs" in resume.stderr
    assert not (run / LOCK_NAME).exists()
    entries = read_json(run / "provenance.json")["entries"]
    assert [e["status"] for e in entries] == ["running", "finished"]
    assert entries[0]["pid"] == first.pid
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == epoch + 2

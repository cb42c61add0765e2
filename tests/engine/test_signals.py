"""Exit codes: a finished fit 0, a stopped one 143 / 130 (resumable), a second Ctrl-C at once."""

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch
from lightning.pytorch import Callback

from helpers import ROOT, TINY, TOY, only_run_dir, read_json, run_cli, run_main
from runforge.tasks import ImageClassifier

#: Batches that take a while on a CPU, so that a second Ctrl-C comes during the first's stop.
SLOW_BATCHES = [
    "--model.net.channels", "[256, 512]",
    "--data.batch_size", "1024",
    "--trainer.limit_val_batches", "0",
]  # fmt: skip


@pytest.mark.slow
def test_a_finished_fit_exits_0_and_names_its_run(tmp_path):
    result = run_main("fit", *TOY, *TINY, "--run.root", str(tmp_path / "logs"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Run directory:" in result.stdout + result.stderr
    [entry] = read_json(only_run_dir(tmp_path / "logs") / "provenance.json")["entries"]
    assert entry["status"] == "finished" and "error" not in entry


def test_a_bug_during_the_fit_keeps_its_traceback(tmp_path, monkeypatch, capsys):
    def broken_step(self, batch, batch_idx):
        if batch_idx == 1:
            raise RuntimeError("a bug in the network")
        return self.shared_step(batch, "train")

    monkeypatch.setattr(ImageClassifier, "training_step", broken_step)
    with pytest.raises(RuntimeError, match="a bug in the network"):  # not SystemExit(2)
        run_cli("fit", *TOY, *TINY, "--run.root", str(tmp_path / "logs"))
    # One step was trained: the run is kept, and says how it ended.
    [entry] = read_json(only_run_dir(tmp_path / "logs") / "provenance.json")["entries"]
    assert (entry["status"], entry["error"]) == ("failed", "RuntimeError: a bug in the network")
    assert "removed" not in capsys.readouterr().err


def test_a_fit_that_fails_before_its_first_step_leaves_no_run(tmp_path, monkeypatch, capsys):
    def broken_step(self, batch, batch_idx):
        raise RuntimeError("a bug in the network")

    monkeypatch.setattr(ImageClassifier, "training_step", broken_step)
    with pytest.raises(RuntimeError, match="a bug in the network"):
        run_cli("fit", *TOY, *TINY, "--run.root", str(tmp_path / "logs"))
    assert not (tmp_path / "logs").exists()
    assert "The run failed before its first step; removed " in capsys.readouterr().err


@pytest.mark.slow
def test_a_second_ctrl_c_stops_at_once(tmp_path):
    command = [sys.executable, str(ROOT / "src" / "main.py"), "fit", *TOY, *SLOW_BATCHES]
    process = subprocess.Popen(
        [*command, "--run.root", str(tmp_path / "logs")], cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True)
    reader.start()

    def wait_for(text: str) -> None:
        deadline = time.monotonic() + 600  # a safety net: the event is the line
        while not any(text in line for line in lines):
            assert process.poll() is None, "".join(lines)[-3000:]
            assert time.monotonic() < deadline, f"no {text!r} in {''.join(lines)[-3000:]}"
            time.sleep(0.01)

    try:
        wait_for("LRCurve")  # training has started
        process.send_signal(signal.SIGINT)
        wait_for("SIGINT received: stopping after the current batch")
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        process.kill()
        reader.join(timeout=10)
    output = "".join(lines)
    assert process.returncode == 130, output[-3000:]
    assert "Second interrupt: stopped at once, without saving." in output
    assert "Resume with" not in output


class TermAtEpochEnd(Callback):
    """Sends this process SIGTERM after the last training batch of epoch 0 (`at="train"`) or
    after the first batch of its validation (`at="validation"`)."""

    def __init__(self, at: str = "train") -> None:
        self.at = at

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        """SIGTERM after the epoch's last batch."""
        if self.at == "train" and batch_idx == trainer.num_training_batches - 1:
            self._stop(trainer)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        """SIGTERM after the first validation batch (of two)."""
        if self.at == "validation" and not trainer.sanity_checking:
            self._stop(trainer)

    @staticmethod
    def _stop(trainer) -> None:
        if trainer.current_epoch == 0:
            os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.parametrize("at", ["train", "validation"])
def test_a_stop_at_an_epoch_end_resumes_with_the_whole_next_epoch(tmp_path, at):
    logs = tmp_path / "logs"
    # Whole epochs of 9 batches (a limit on the batches would hide a skipped one).
    three_epochs = [*TOY, "--data.batch_size", "128", "--trainer.max_epochs", "3"]
    three_epochs += ["--trainer.limit_val_batches", "2"]
    run_cli("fit", *three_epochs, "--run.root", str(tmp_path / "reference"))
    reference = only_run_dir(tmp_path / "reference") / "checkpoints" / "last.ckpt"
    expected = torch.load(reference, weights_only=True)
    stop_at_epoch_end = ["--trainer.callbacks+=test_signals.TermAtEpochEnd"]
    stop_at_epoch_end += [f"--trainer.callbacks.at={at}"]
    with pytest.raises(SystemExit) as stop:
        run_cli("fit", *three_epochs, *stop_at_epoch_end, "--run.root", str(logs))
    assert stop.value.code == 143
    run = only_run_dir(logs)
    assert not (run / "run.lock").exists(), "the stopped fit gave its run's lock back"
    # The stop waits for the epoch's validation and checkpoints: the fit resumes in epoch 1.
    stopped = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert (stopped["epoch"], stopped["global_step"]) == (1, 9)
    run_cli("fit", "-c", str(run / "config.yaml"), "--ckpt_path", "last")
    resumed = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert (resumed["epoch"], resumed["global_step"]) == (2, 27)  # no epoch left out
    for name, weights in expected["state_dict"].items():
        assert torch.equal(resumed["state_dict"][name], weights), name
    # The next epoch's metrics start from nothing, not from the stopped epoch's sums.
    assert _epoch_rows(run) == _epoch_rows(only_run_dir(tmp_path / "reference"))


class RecordBatches(Callback):
    """Appends each training batch (epoch, index, labels, pixel sum) to a JSON-lines file and
    sends this process SIGTERM at the start of the given global steps (once each)."""

    def __init__(self, path: str, stop_at: list[int] | None = None) -> None:
        self.path, self.stop_at = path, list(stop_at or [])

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        """Record the batch as the step sees it (augmented, preprocessed)."""
        images, labels = batch
        record = [trainer.current_epoch, batch_idx, labels.tolist(), images.double().sum().item()]
        with open(self.path, "a") as file:
            file.write(json.dumps(record) + "\n")
        if trainer.global_step in self.stop_at:
            os.kill(os.getpid(), signal.SIGTERM)  # stops after this batch


#: Three epochs of 9 batches with random crops and an EMA of the weights.
AUGMENTED_EMA = [
    *TOY, "-c", "configs/callbacks/ema.yaml",
    "--data.batch_size", "128", "--trainer.max_epochs", "3", "--trainer.limit_val_batches", "2",
    "--data.augment", '[{"class_path": "torchvision.transforms.v2.RandomResizedCrop", '
    '"init_args": {"size": [8, 8], "scale": [0.6, 1.0]}}]',
]  # fmt: skip


def _recorded(path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _epoch_rows(run) -> list[dict]:
    with open(run / "curves.csv", newline="") as file:
        return list(csv.DictReader(file))


def test_two_stops_in_one_epoch_resume_to_the_same_batches_weights_and_metrics(tmp_path):
    """SIGTERM at steps 11 and 14 (both in epoch 1), each resumed: as if never stopped."""
    record = ["--trainer.callbacks+=test_signals.RecordBatches"]
    run_cli("fit", *AUGMENTED_EMA, *record, f"--trainer.callbacks.path={tmp_path / 'ref.jsonl'}",
            "--run.root", str(tmp_path / "reference"))  # fmt: skip
    reference = only_run_dir(tmp_path / "reference")
    logs, batches = tmp_path / "logs", tmp_path / "stopped.jsonl"
    stops = [*record, f"--trainer.callbacks.path={batches}", "--trainer.callbacks.stop_at=[11, 14]"]
    handlers = [signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)]
    with pytest.raises(SystemExit) as stop:
        run_cli("fit", *AUGMENTED_EMA, *stops, "--run.root", str(logs))
    assert stop.value.code == 143
    given_back = [signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)]
    assert given_back == handlers, "a stopped fit gives the signals back to their handlers"
    run = only_run_dir(logs)
    for expected_step in (12, 15):
        stopped = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
        assert (stopped["epoch"], stopped["global_step"]) == (1, expected_step)
        try:
            run_cli("fit", "-c", str(run / "config.yaml"), "--ckpt_path", "last")
        except SystemExit as again:  # the first resume meets the second stop
            assert again.code == 143 and expected_step == 12
    assert _recorded(batches) == _recorded(tmp_path / "ref.jsonl"), "batch for batch"
    resumed = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    expected = torch.load(reference / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == expected["global_step"] == 27
    for name, weights in expected["state_dict"].items():
        assert torch.equal(resumed["state_dict"][name], weights), name
    ema = "EMAWeightAveraging"
    assert [k for k in expected["callbacks"] if ema in k], "the EMA is in the checkpoint"
    # The epoch cut twice logs its training loss and accuracy over all its batches.
    assert _epoch_rows(run) == _epoch_rows(reference)


class CrashInEpoch(Callback):
    """Raises at the start of the given epoch, as a crash between two epochs would."""

    def __init__(self, epoch: int = 1) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        """Crash (last.ckpt was written at the previous epoch's validation)."""
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("crashed between epochs")


def test_a_fit_resumed_from_an_epoch_end_checkpoint_logs_every_epoch_as_never_stopped(tmp_path):
    three_epochs = [*TOY, "--data.batch_size", "128", "--trainer.max_epochs", "3"]
    three_epochs += ["--trainer.limit_val_batches", "2"]
    run_cli("fit", *three_epochs, "--run.root", str(tmp_path / "reference"))
    crash = ["--trainer.callbacks+=test_signals.CrashInEpoch"]
    with pytest.raises(RuntimeError, match="crashed between epochs"):
        run_cli("fit", *three_epochs, *crash, "--run.root", str(tmp_path / "logs"))
    run = only_run_dir(tmp_path / "logs")
    run_cli("fit", *three_epochs, "--run.version", run.name, "--run.root", str(tmp_path / "logs"),
            "--ckpt_path", "last")  # fmt: skip
    assert _epoch_rows(run) == _epoch_rows(only_run_dir(tmp_path / "reference"))


@pytest.mark.slow
def test_on_a_terminal_the_resume_command_is_the_last_line_left(tmp_path):
    """Rich's live bar is stopped before the stop's lines, so no redraw hides them."""
    import pty
    import re

    leader, follower = pty.openpty()
    command = [sys.executable, str(ROOT / "src" / "main.py"), "fit", *TOY]
    process = subprocess.Popen(
        [*command, "--run.root", str(tmp_path / "logs"), "--data.batch_size", "8"],
        cwd=ROOT, stdin=follower, stdout=follower, stderr=follower,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )  # fmt: skip
    os.close(follower)
    output = b""
    try:
        while b"Epoch 0" not in output:  # the bar is drawn: training is under way
            output += os.read(leader, 65536)
        process.send_signal(signal.SIGTERM)
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the process closed the terminal
                break
            if not chunk:
                break
            output += chunk
        process.wait(timeout=120)
    finally:
        process.kill()
        os.close(leader)
    assert process.returncode == 143
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.decode(errors="replace"))
    lines = [line.strip() for line in re.split(r"\r\n|\r|\n", text) if line.strip()]
    assert lines[-1].startswith("Resume with: python src/main.py fit -c "), lines[-5:]
    assert lines[-1].endswith("/config.yaml --ckpt_path last"), lines[-5:]


def test_a_second_ctrl_c_exits_at_once_without_saving(monkeypatch, capsys):
    """The handler itself (the slow test sends real signals to a real fit)."""
    from runforge.callbacks import StopOnSignal

    exits = []
    monkeypatch.setattr(os, "_exit", exits.append)
    stop = StopOnSignal()
    stop._handle(signal.SIGINT, None)
    assert stop.signum == signal.SIGINT and exits == [], "the first one only takes note"
    assert "SIGINT received: stopping after the current batch" in capsys.readouterr().err
    stop._handle(signal.SIGINT, None)
    assert exits == [130]
    assert "Second interrupt: stopped at once, without saving." in capsys.readouterr().err


def test_a_finished_fit_returns_normally_and_names_its_run(tmp_path, caplog):
    from runforge.cli.cli import main

    logs = tmp_path / "logs"
    with caplog.at_level("INFO"):
        main(["fit", *TOY, *TINY, "--run.root", str(logs)])  # no SystemExit: exit code 0
    run = only_run_dir(logs)
    assert f"Run directory: {run}" in caplog.text
    [entry] = read_json(run / "provenance.json")["entries"]
    assert entry["status"] == "finished" and "error" not in entry

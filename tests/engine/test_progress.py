"""The progress bar: plain lines when output is not a terminal, and a way to turn it off."""

import re
import time

import pytest

from helpers import TOY, only_run_dir, run_cli, run_main

#: 50 training steps of 8 images in one epoch: one step line (every 50 steps) and the epoch line.
FIFTY_STEPS = ["--data.batch_size", "8", "--trainer.limit_train_batches", "50"]
FIFTY_STEPS += ["--trainer.max_epochs", "2", "--trainer.limit_val_batches", "2"]


def test_without_a_terminal_progress_is_plain_lines(tmp_path):
    logs = tmp_path / "logs"
    result = run_main("fit", *TOY, *FIFTY_STEPS, "--run.root", str(logs))  # stdout: a pipe
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    steps = [line for line in lines if re.match(r"Epoch \d/1 step 50/50 ", line)]
    assert len(steps) == 2, result.stdout[-3000:]
    assert all(re.search(r"[\d.]+ it/s  train/loss_step \d", line) for line in steps)
    epochs = [line for line in lines if re.match(r"Epoch \d/1 done: 50 steps, [\d.]+ s ", line)]
    assert len(epochs) == 2, result.stdout[-3000:]
    for line in epochs:
        values = dict(re.findall(r"(\S+/\S+) ([\d.e+-]+)", line))
        assert set(values) >= {"train/loss", "train/acc", "val/loss", "val/acc", "val/acc_best"}
        assert 0 <= float(values["val/acc"]) <= 1
    first, second = (dict(re.findall(r"(train/loss) ([\d.]+)", e)) for e in epochs)
    assert float(second["train/loss"]) < float(first["train/loss"])  # the epoch's own mean
    assert not any("━" in line and "it/s" in line for line in lines)  # no Rich bar frame
    assert (only_run_dir(logs) / "checkpoints" / "last.ckpt").is_file()


def test_the_epoch_line_counts_the_steps_done(tmp_path, capsys):
    """A fit stopped by max_steps mid-epoch says how many of the epoch's steps it did."""
    stop = ["--trainer.max_steps", "3", "--trainer.val_check_interval", "3"]
    stop += ["--trainer.limit_val_batches", "1"]
    run_cli("fit", *TOY, *stop, "--run.root", str(tmp_path / "logs"))
    [line] = [line for line in capsys.readouterr().out.splitlines() if " done: " in line]
    assert line.startswith("Epoch 0/19 done: 3 of 18 steps, "), line


def test_enable_progress_bar_false_runs_without_a_bar(tmp_path, capsys):
    logs = tmp_path / "logs"
    tiny = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2"]
    cli = run_cli(
        "fit", *TOY, *tiny, "--trainer.enable_progress_bar", "false", "--run.root", str(logs)
    )
    assert cli.trainer.progress_bar_callback is None
    assert cli.trainer.current_epoch == 1  # trained
    assert "Epoch 0" not in capsys.readouterr().out


@pytest.mark.slow
def test_enable_progress_bar_false_exits_0_from_the_command_line(tmp_path):
    logs = tmp_path / "logs"
    tiny = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2"]
    result = run_main(
        "fit", *TOY, *tiny, "--trainer.enable_progress_bar", "false", "--run.root", str(logs)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (only_run_dir(logs) / "checkpoints" / "last.ckpt").is_file()


def test_a_resumed_epoch_line_counts_the_steps_and_time_since_the_resume(tmp_path, capsys):
    """SIGTERM after step 12 (the 3rd of epoch 1's 9 steps), then a resume in that epoch."""
    logs = tmp_path / "logs"
    args = [*TOY, "--data.batch_size", "128", "--trainer.max_epochs", "2"]
    args += ["--trainer.limit_val_batches", "1", "--run.root", str(logs)]
    args += ["--trainer.callbacks+=test_signals.RecordBatches"]
    args += [f"--trainer.callbacks.path={tmp_path / 'batches.jsonl'}"]
    with pytest.raises(SystemExit):
        run_cli("fit", *args, "--trainer.callbacks.stop_at=[11]")
    capsys.readouterr()
    started = time.monotonic()
    run_cli("fit", "-c", str(only_run_dir(logs) / "config.yaml"), "--ckpt_path", "last")
    took = time.monotonic() - started
    [line] = [line for line in capsys.readouterr().out.splitlines() if " done: " in line]
    match = re.match(r"Epoch 1/1 done: 9 steps \(6 after the resume\), ([\d.]+) s ", line)
    assert match and float(match[1]) <= took, (line, took)  # since the resume

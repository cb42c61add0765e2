"""Resuming a fit continues the same run directory, logger runs and step counters."""

import json
import logging
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from toy import Bars

from helpers import ROOT, TOY, only_run_dir, read_json, run_cli
from logger_readers import (
    tensorboard_scalars,
    wandb_history_steps,
    wandb_offline_runs,
    wandb_run_id,
)
from runforge.records.logger_runs import LOGGER_RUNS

STEPS_PER_EPOCH = 3
THREE_STEPS = [
    "--trainer.limit_train_batches",
    str(STEPS_PER_EPOCH),
    "--trainer.limit_val_batches",
    "1",
    "--trainer.log_every_n_steps",
    "1",
]


def fit(*args: str):
    """An in-process fit."""
    return run_cli("fit", *args)


def test_resume_from_last_continues_every_logger(tmp_path):
    logs = tmp_path / "logs"
    presets = ["-c", "configs/logger/wandb.yaml", "-c", "configs/logger/csv.yaml"]
    fit(*TOY, *presets, "--run.root", str(logs), "--trainer.max_epochs", "2", *THREE_STEPS)
    run = only_run_dir(logs)
    first_config = (run / "config.yaml").read_text()
    [first_wandb] = wandb_offline_runs(run)
    run_id = wandb_run_id(first_wandb)

    # Resume from the run's own config, as the README shows, with a higher max_epochs.
    fit("-c", str(run / "config.yaml"), "--ckpt_path", "last", "--trainer.max_epochs", "4")

    assert only_run_dir(logs) == run, "the resume must not start a new run directory"
    assert (run / "config.yaml").read_text() == first_config
    assert len(list(run.glob("config-*.yaml"))) == 1, "the changed config is saved beside it"
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 3

    # TensorBoard: one folder, steps of all four epochs.
    assert [p.name for p in run.iterdir() if "tensorboard" in p.name] == ["tensorboard"]
    steps = [step for step, _ in tensorboard_scalars(run / "tensorboard", "train/loss_step")]
    assert steps == list(range(4 * STEPS_PER_EPOCH))
    epochs = {value for _, value in tensorboard_scalars(run / "tensorboard", "epoch")}
    assert epochs == {0, 1, 2, 3}

    # W&B: the same run id, resumed; its history continues at the next step.
    offline_runs = wandb_offline_runs(run)
    assert len(offline_runs) == 2
    assert {wandb_run_id(path) for path in offline_runs} == {run_id}
    assert json.loads((run / LOGGER_RUNS).read_text()) == {"wandb": run_id}
    first_steps = wandb_history_steps(offline_runs[0], "train/loss_step")
    second_steps = wandb_history_steps(offline_runs[1], "train/loss_step")
    assert first_steps == list(range(2 * STEPS_PER_EPOCH))
    assert second_steps == list(range(2 * STEPS_PER_EPOCH, 4 * STEPS_PER_EPOCH))

    # CSV: appended, not replaced.
    rows = (run / "csv" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    epoch_column = [r.split(",")[header.index("epoch")] for r in rows[1:]]
    epoch_values = {float(value) for value in epoch_column if value}
    assert epoch_values == {0, 1, 2, 3}


def test_resume_from_an_explicit_checkpoint_path(tmp_path):
    logs = tmp_path / "logs"
    fit(*TOY, "--run.root", str(logs), "--trainer.max_epochs", "1", *THREE_STEPS)
    run = only_run_dir(logs)
    ckpt = run / "checkpoints" / "last.ckpt"
    fit(*TOY, "--ckpt_path", str(ckpt), "--trainer.max_epochs", "2", *THREE_STEPS)
    assert only_run_dir(logs) == run
    steps = [step for step, _ in tensorboard_scalars(run / "tensorboard", "train/loss_step")]
    assert steps == list(range(2 * STEPS_PER_EPOCH))


def test_last_without_a_version_resumes_the_newest_run_and_says_which(tmp_path, caplog):
    logs = tmp_path / "logs"
    csv_only = ["--trainer.logger", "null", "-c", "configs/logger/csv.yaml"]
    common = [*TOY, "--run.root", str(logs), *csv_only, *THREE_STEPS]
    fit(*common, "--trainer.max_epochs", "1", "--run.version", "older")
    fit(*common, "--trainer.max_epochs", "1", "--run.version", "newer")
    older, newer = logs / "default" / "older", logs / "default" / "newer"
    os.utime(older / "checkpoints" / "last.ckpt", (1_000_000_000, 1_000_000_000))
    with caplog.at_level(logging.INFO):
        fit(*common, "--trainer.max_epochs", "2", "--ckpt_path", "last")
    assert f"using the newest run, {newer}" in caplog.text
    assert torch.load(newer / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 1
    assert torch.load(older / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 0
    assert sorted(p.name for p in (logs / "default").iterdir()) == ["newer", "older"]


def test_last_checkpoint_is_the_latest_epoch_even_without_improvement(tmp_path):
    """With lr 0 val/acc never improves after epoch 0; last.ckpt must still be the newest."""
    logs = tmp_path / "logs"
    fit(*TOY, "--run.root", str(logs), *THREE_STEPS, "--trainer.max_epochs", "3",
        "--model.optimizer.lr", "0", "--model.lr_scheduler", "null")  # fmt: skip
    checkpoints = only_run_dir(logs) / "checkpoints"
    last = torch.load(checkpoints / "last.ckpt", weights_only=True)
    assert last["epoch"] == 2
    [best] = checkpoints.glob("epoch*.ckpt")
    assert best.name.startswith("epoch000-"), "the best checkpoint stays the first epoch's"


def test_a_new_run_from_a_runs_config_keeps_to_its_own_directory(tmp_path):
    logs = tmp_path / "logs"
    args = ["--run.root", str(logs), *THREE_STEPS, "--trainer.max_epochs", "1"]
    fit(*TOY, *args, "-c", "configs/logger/wandb.yaml")
    first = only_run_dir(logs)
    before = {p.name: p.stat().st_mtime_ns for p in (first / "checkpoints").iterdir()}

    fit("-c", str(first / "config.yaml"), "--run.version", "null")
    (second,) = [p for p in logs.glob("*/*") if p.is_dir() and p != first]
    assert {p.name: p.stat().st_mtime_ns for p in (first / "checkpoints").iterdir()} == before
    assert (second / "checkpoints" / "last.ckpt").is_file()
    assert str(first) not in (first / "config.yaml").read_text()  # no placed paths recorded
    [offline] = wandb_offline_runs(second)
    assert wandb_run_id(offline) != wandb_run_id(wandb_offline_runs(first)[0])


def _epoch_of(path):
    """The epoch stored in a checkpoint, or None while it is missing or half written."""
    try:
        return torch.load(path, weights_only=True, map_location="cpu")["epoch"]
    except (FileNotFoundError, RuntimeError, EOFError, KeyError):
        return None


@pytest.mark.slow
def test_a_killed_fit_resumes_in_its_run_without_losing_or_repeating_steps(tmp_path):
    logs = tmp_path / "logs"
    no_val = ["--trainer.limit_val_batches", "0"]  # no EarlyStopping: it runs until killed
    command = [sys.executable, str(ROOT / "src" / "main.py"), "fit", *TOY, *no_val]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen(
        [*command, "--run.root", str(logs), "--trainer.max_epochs", "1000"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600  # a safety net: the event is the checkpoint
        while True:
            found = list(logs.glob("*/*/checkpoints/last.ckpt"))
            if found and (_epoch_of(found[0]) or 0) >= 1:
                break
            assert process.poll() is None, "the fit ended before its second epoch"
            assert time.monotonic() < deadline, "no checkpoint of epoch 1 in 600 s"
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)  # as a preempted or out-of-memory job dies
    finally:
        process.wait()
    run = only_run_dir(logs)
    killed_at = _epoch_of(run / "checkpoints" / "last.ckpt")
    assert killed_at is not None and killed_at >= 1

    resumed = subprocess.run(
        [*command, "-c", str(run / "config.yaml"), "--ckpt_path", "last",
         "--trainer.max_epochs", str(killed_at + 3)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert only_run_dir(logs) == run
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    datamodule = Bars()
    datamodule.setup("fit")
    steps_per_epoch = math.ceil(len(datamodule.datasets["train"]) / datamodule.batch_size)
    assert last["epoch"] == killed_at + 2
    assert last["global_step"] == (killed_at + 3) * steps_per_epoch
    kinds = [entry["kind"] for entry in read_json(run / "provenance.json")["entries"]]
    assert kinds == ["start", "resume"]

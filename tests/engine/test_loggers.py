"""Every logger writes into the one run directory and receives the config and hyperparameters."""

import csv
import json
import os
import uuid
from pathlib import Path

import pytest
import yaml
from jsonargparse import Namespace

from helpers import TINY, TOY, only_run_dir, run_cli
from logger_readers import (
    tensorboard_hparams,
    tensorboard_scalars,
    wandb_config,
    wandb_offline_runs,
    wandb_run_id,
)
from runforge.loggers import CSVLogger
from runforge.records.logger_runs import LOGGER_RUNS
from runforge.runs import RunDirectory, RunError
from runforge.runs.placement import place_trainer_outputs, settle_trainer

LR = 0.003  # tests/configs/toy_model.yaml


def fit(logs, *args: str):
    """An in-process tiny fit into `logs`."""
    return run_cli("fit", *TOY, "--run.root", str(logs), *TINY, *args)


def test_tensorboard_and_csv_share_the_run_and_get_the_hyperparameters(tmp_path):
    cli = fit(tmp_path / "logs", "-c", "configs/logger/csv.yaml")
    run = only_run_dir(tmp_path / "logs")
    assert (run / "config.yaml").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "provenance.json").is_file()
    assert sorted(p.name for p in run.iterdir() if p.is_dir()) == [
        "checkpoints",
        "csv",
        "tensorboard",
    ]
    assert not (run / LOGGER_RUNS).exists(), "TB and CSV keep everything in the run directory"

    tb = tensorboard_hparams(run / "tensorboard")
    assert tb["optimizer/class"] == "AdamW"
    assert tb["optimizer/lr"] == pytest.approx(LR)
    assert tb["lr_scheduler/class"] == "WarmupSchedule"
    assert tb["lr_scheduler/decay"] == "cosine"
    assert tb["config/trainer/max_epochs"] == 1
    assert tb["config/data/class_path"] == "toy.Bars"

    hparams = yaml.safe_load((run / "csv" / "hparams.yaml").read_text())
    assert hparams["optimizer/lr"] == pytest.approx(LR)
    assert hparams["lr_scheduler/interval"] == "step", "WarmupSchedule steps per optimizer step"
    assert hparams["lr_scheduler/total_steps"] == 2  # the whole run: 1 epoch of 2 batches
    assert hparams["config"]["model"]["init_args"]["optimizer"]["init_args"]["lr"] == LR
    assert hparams["config"]["run"]["version"] == run.name
    with open(run / "csv" / "metrics.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0])[:2] == ["epoch", "step"]
    # Both loggers, read back with their own readers, hold the values the run computed.
    for key in ("val/acc", "val/loss", "train/acc", "train/loss"):
        [logged] = [row[key] for row in rows if row[key]]
        [(_, scalar)] = tensorboard_scalars(run / "tensorboard", key)
        computed = float(cli.trainer.callback_metrics[key])
        assert float(logged) == pytest.approx(computed, rel=1e-6), key
        assert scalar == pytest.approx(computed, rel=1e-6), key


def test_wandb_offline_run_lives_in_the_run_directory_without_secrets(tmp_path, monkeypatch):
    # Built at run time: the run's provenance may hold a diff of this very file.
    secret, token = uuid.uuid4().hex + uuid.uuid4().hex[:8], f"token-{uuid.uuid4().hex}"
    monkeypatch.setenv("WANDB_API_KEY", secret)
    monkeypatch.setenv("TEMPLATE_SECRET_TOKEN", token)  # as if loaded from .env
    logs = tmp_path / "logs"
    fit(logs, "--trainer.logger", "null", "-c", "configs/logger/wandb.yaml")
    run = only_run_dir(logs)
    assert (run / "config.yaml").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "provenance.json").is_file()
    assert not (run / "tensorboard").exists()
    [offline] = wandb_offline_runs(run)
    run_id = wandb_run_id(offline)
    assert json.loads((run / LOGGER_RUNS).read_text()) == {"wandb": run_id}

    config = wandb_config(offline)
    assert config["optimizer/class"] == "AdamW"
    assert config["optimizer/lr"] == pytest.approx(LR)
    assert config["config"]["trainer"]["max_epochs"] == 1
    assert config["config"]["run"]["version"] == run.name

    files = [p for p in logs.rglob("*") if p.is_file()]
    assert len(files) > 5
    for path in files:
        data = path.read_bytes()
        assert secret.encode() not in data, path
        assert token.encode() not in data, path


def test_mlflow_uses_a_local_store_and_resume_continues_its_run(tmp_path):
    from mlflow.tracking import MlflowClient

    logs = tmp_path / "logs"
    no_scheduler = ["--model.init_args.lr_scheduler", "null"]
    fit(logs, "--trainer.logger", "null", "-c", "configs/logger/mlflow.yaml", *no_scheduler)
    assert "MLFLOW_TRACKING_URI" not in os.environ, "later runs would log to this store"
    run = only_run_dir(logs)
    run_id = json.loads((run / LOGGER_RUNS).read_text())["mlflow"]
    client = MlflowClient(f"sqlite:///{logs.resolve() / 'mlflow.db'}")
    record = client.get_run(run_id)
    assert record.info.run_name == run.name
    assert client.get_experiment(record.info.experiment_id).name == "default"
    assert record.data.params["optimizer/lr"] == str(LR)
    assert record.data.params["lr_scheduler/class"] == "None"
    assert record.data.params["config/trainer/max_epochs"] == "1"

    # Resume with a changed max_epochs: same MLflow run, metrics continue; MLflow keeps
    # the params of the run's start (it refuses changed values) and training goes on.
    fit(logs, "-c", str(run / "config.yaml"), "--ckpt_path", "last", "--trainer.max_epochs", "2")
    assert only_run_dir(logs) == run
    assert json.loads((run / LOGGER_RUNS).read_text())["mlflow"] == run_id
    epochs = [m.value for m in client.get_metric_history(run_id, "epoch")]
    assert {0, 1} <= set(epochs)
    assert len(client.search_runs([record.info.experiment_id])) == 1


def test_scheduler_without_optimizer_override(tmp_path):
    model = tmp_path / "model.yaml"
    model.write_text(
        "model:\n  class_path: runforge.tasks.ImageClassifier\n  init_args:\n"
        "    net: {class_path: toy.TinyNet}\n"
        "    lr_scheduler:\n      class_path: torch.optim.lr_scheduler.StepLR\n"
        "      init_args: {step_size: 3}\n"
    )
    logs = tmp_path / "logs"
    run_cli(
        "fit", "-c", "tests/configs/toy_data.yaml", "-c", str(model), "--run.root", str(logs),
        "--trainer.logger", "null", "-c", "configs/logger/csv.yaml", *TINY,
    )  # fmt: skip
    hparams = yaml.safe_load((only_run_dir(logs) / "csv" / "hparams.yaml").read_text())
    assert hparams["optimizer/class"] == "AdamW"  # the task's default
    assert hparams["lr_scheduler/class"] == "StepLR"
    assert hparams["lr_scheduler/step_size"] == 3
    assert hparams["lr_scheduler/interval"] == "epoch"


def test_csv_logger_appends_when_resumed(tmp_path):
    first = CSVLogger(tmp_path, name="", version="csv")
    first.log_metrics({"a": 1.0}, step=0)
    first.log_hyperparams({"x": 1})
    first.save()
    second = CSVLogger(tmp_path, name="", version="csv")
    second.log_metrics({"a": 2.0, "b": 3.0}, step=1)
    second.log_hyperparams({"y": 2})
    second.save()
    rows = (tmp_path / "csv" / "metrics.csv").read_text().splitlines()
    assert rows == ["a,b,step", "1.0,,0", "2.0,3.0,1"]
    assert yaml.safe_load((tmp_path / "csv" / "hparams.yaml").read_text()) == {"x": 1, "y": 2}


def _logger(class_path: str, **init_args) -> Namespace:
    return Namespace(class_path=class_path, init_args=Namespace(**init_args))


def test_lightning_loggers_are_used_as_given_and_placed_in_the_run(monkeypatch):
    run = RunDirectory("logs", "exp", "v1")
    tb = {"save_dir": "logs", "name": "x", "version": None, "sub_dir": None}
    tb["default_hp_metric"] = False
    trainer = Namespace(
        logger=[
            _logger("lightning.pytorch.loggers.TensorBoardLogger", **tb),
            _logger("lightning.pytorch.loggers.TensorBoardLogger", **tb),
        ],
        callbacks=None,
    )
    settle_trainer(trainer, [])
    place_trainer_outputs(trainer, run)
    assert [lg.class_path for lg in trainer.logger] == [
        "lightning.pytorch.loggers.TensorBoardLogger"
    ]
    tb_args = trainer.logger[0].init_args
    folder = Path(tb_args.save_dir, tb_args.name, tb_args.version, tb_args.sub_dir)
    assert folder == run.path / "tensorboard"

    trainer = Namespace(logger=[_logger("lightning.pytorch.loggers.CSVLogger", save_dir="logs")])
    with pytest.warns(UserWarning, match="starts metrics.csv over when the run is resumed"):
        settle_trainer(trainer, [])
    place_trainer_outputs(trainer, run)
    assert trainer.logger[0].class_path == "lightning.pytorch.loggers.CSVLogger"
    assert Path(trainer.logger[0].init_args.save_dir, trainer.logger[0].init_args.version) == (
        run.path / "csv"
    )

    csv = {"save_dir": "logs", "name": "", "version": None, "prefix": ""}
    trainer = Namespace(
        logger=[
            _logger("runforge.loggers.CSVLogger", **csv),
            _logger("runforge.loggers.CSVLogger", **csv),
        ]
    )
    trainer.logger[1].init_args.prefix = "other"
    with pytest.raises(RunError, match="both write to"):
        place_trainer_outputs(trainer, run)

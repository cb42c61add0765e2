"""The callbacks in the config are the ones that run; config.yaml, metrics and predictions."""

import csv
import time
from collections import Counter
from pkgutil import resolve_name

import torch
import yaml
from lightning.pytorch.cli import LightningArgumentParser

from helpers import TINY, TOY, only_run_dir, run_cli
from runforge.records import (
    MetricsWriter,
    PredictionWriter,
    Provenance,
    RecordLoggerRuns,
    RunRecords,
    SaveRunConfig,
)


def _recorded_callbacks(run) -> list[str]:
    config = yaml.safe_load((run / "config.yaml").read_text())
    return [c["class_path"] for c in config["trainer"]["callbacks"]]


def test_config_yaml_names_every_callback_that_ran(tmp_path):
    logs = tmp_path / "logs"
    cli = run_cli("fit", *TOY, "--trainer.max_epochs", "2", "--run.root", str(logs))
    recorded = Counter(resolve_name(path) for path in _recorded_callbacks(only_run_dir(logs)))
    # Besides the callback that writes config.yaml itself, which the CLI passes to Lightning.
    ran = Counter(type(c) for c in cli.trainer.callbacks if not isinstance(c, SaveRunConfig))
    assert ran == recorded
    assert RunRecords in ran, "the run's records: one callback"
    records = next(c for c in cli.trainer.callbacks if isinstance(c, RunRecords))
    parts = (records.provenance, records.logger_runs, records.metrics, records.predictions)
    assert [type(part) for part in parts] == [
        Provenance,
        RecordLoggerRuns,
        MetricsWriter,
        PredictionWriter,
    ]
    assert records.provenance.command[1:3] == ["fit", "-c"], "the CLI's command line"


def test_default_callbacks_are_dropped_or_swapped_from_the_command_line(tmp_path):
    logs = tmp_path / "logs"
    cli = run_cli(
        "fit", *TOY, "--run.root", str(logs), *TINY,
        "--drop_callbacks", "[ProgressBar, runforge.callbacks.TestReport]",
        "--trainer.callbacks+", "TQDMProgressBar",
    )  # fmt: skip
    kinds = [type(c).__name__ for c in cli.trainer.callbacks]
    assert "TQDMProgressBar" in kinds and "LRCurve" in kinds and "RunRecords" in kinds
    assert "ProgressBar" not in kinds and "TestReport" not in kinds
    run = only_run_dir(logs)
    recorded = [path.rpartition(".")[2] for path in _recorded_callbacks(run)]
    assert "TQDMProgressBar" in recorded and "TestReport" not in recorded
    assert "drop_callbacks: []" in (run / "config.yaml").read_text(), "applied, not repeated"
    again = run_cli("fit", "-c", str(run / "config.yaml"), "--run.version", "again", *TINY)
    assert [type(c) for c in again.trainer.callbacks] == [type(c) for c in cli.trainer.callbacks]


class _Trainer:
    world_size, global_rank, fast_dev_run = 1, 0, False

    def __init__(self, folder):
        self.default_root_dir = str(folder)


def _saver(tmp_path, lr):
    parser = LightningArgumentParser()
    parser.add_argument("--lr", type=float)
    parser.add_argument("--ckpt_path", type=str)
    config = parser.parse_args([f"--lr={lr}", "--ckpt_path=some.ckpt"])
    saver = SaveRunConfig(parser, config)
    saver.save_config(_Trainer(tmp_path), None, "fit")
    return saver


def test_config_is_saved_once_and_a_changed_one_beside_it(tmp_path):
    _saver(tmp_path, 0.1)
    text = (tmp_path / "config.yaml").read_text()
    assert "lr: 0.1" in text and "ckpt_path: null" in text
    _saver(tmp_path, 0.1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]
    changed = _saver(tmp_path, 0.2)
    assert (tmp_path / "config.yaml").read_text() == text
    assert changed.saved_as != tmp_path / "config.yaml"
    assert "lr: 0.2" in changed.saved_as.read_text()


def test_changed_configs_saved_within_one_second_keep_apart(tmp_path, monkeypatch):
    monkeypatch.setattr(time, "strftime", lambda _: "20260101-000000")
    _saver(tmp_path, 0.1)
    saved = [_saver(tmp_path, lr).saved_as.name for lr in (0.2, 0.3)]
    assert saved == ["config-20260101-000000.yaml", "config-20260101-000000-2.yaml"]
    assert "lr: 0.2" in (tmp_path / saved[0]).read_text()


def test_config_is_not_saved_by_evaluation(tmp_path):
    parser = LightningArgumentParser()
    parser.add_argument("--lr", type=float)
    SaveRunConfig(parser, parser.parse_args(["--lr=0.1"])).save_config(
        _Trainer(tmp_path), None, "test"
    )
    assert not (tmp_path / "config.yaml").exists()


def test_predictions_of_several_loaders_keep_their_indices(tmp_path):
    writer = PredictionWriter()
    batch = {"pred": torch.tensor([1, 2]), "prob": torch.tensor([0.5, 0.25])}
    predictions = [[batch], [batch]]
    indices = [[[0, 1]], [[0, 1]]]
    writer.write_on_epoch_end(_Trainer(tmp_path), None, predictions, indices)
    with open(tmp_path / "predictions.csv") as file:
        rows = list(csv.reader(file))
    assert rows == [
        ["dataloader", "index", "pred", "prob"],
        ["0", "0", "1", "0.5"],
        ["0", "1", "2", "0.25"],
        ["1", "0", "1", "0.5"],
        ["1", "1", "2", "0.25"],
    ]

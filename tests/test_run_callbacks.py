"""Run-level writers: config.yaml never overwritten, metrics JSON, predictions CSV."""

import csv
import time

import torch
from jsonargparse import ArgumentParser

from callbacks import PredictionWriter, SaveRunConfig


class _Trainer:
    world_size, global_rank = 1, 0


def _saver(tmp_path, lr):
    parser = ArgumentParser()
    parser.add_argument("--lr", type=float)
    parser.add_argument("--ckpt_path", type=str)
    config = parser.parse_args([f"--lr={lr}", "--ckpt_path=some.ckpt"])
    return SaveRunConfig(parser, config, tmp_path)


def test_config_is_saved_once_and_a_changed_one_beside_it(tmp_path):
    first = _saver(tmp_path, 0.1)
    first.setup(None, None, "fit")
    text = (tmp_path / "config.yaml").read_text()
    assert "lr: 0.1" in text and "ckpt_path: null" in text
    _saver(tmp_path, 0.1).setup(None, None, "fit")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]
    changed = _saver(tmp_path, 0.2)
    changed.setup(None, None, "fit")
    assert (tmp_path / "config.yaml").read_text() == text
    assert changed.saved_as != tmp_path / "config.yaml"
    assert "lr: 0.2" in changed.saved_as.read_text()


def test_changed_configs_saved_within_one_second_keep_apart(tmp_path, monkeypatch):
    monkeypatch.setattr(time, "strftime", lambda _: "20260101-000000")
    _saver(tmp_path, 0.1).setup(None, None, "fit")
    saved = []
    for lr in (0.2, 0.3):
        saver = _saver(tmp_path, lr)
        saver.setup(None, None, "fit")
        saved.append(saver.saved_as.name)
    assert saved == ["config-20260101-000000.yaml", "config-20260101-000000-2.yaml"]
    assert "lr: 0.2" in (tmp_path / saved[0]).read_text()


def test_config_is_not_saved_by_evaluation(tmp_path):
    _saver(tmp_path, 0.1).setup(None, None, "test")
    assert not (tmp_path / "config.yaml").exists()


def test_predictions_of_several_loaders_keep_their_indices(tmp_path):
    writer = PredictionWriter(tmp_path)
    batch = {"pred": torch.tensor([1, 2]), "prob": torch.tensor([0.5, 0.25])}
    predictions = [[batch], [batch]]
    indices = [[[0, 1]], [[0, 1]]]
    writer.write_on_epoch_end(_Trainer(), None, predictions, indices)
    with open(tmp_path / "predictions.csv") as file:
        rows = list(csv.reader(file))
    assert rows == [
        ["dataloader", "index", "pred", "prob"],
        ["0", "0", "1", "0.5"],
        ["0", "1", "2", "0.25"],
        ["1", "0", "1", "0.5"],
        ["1", "1", "2", "0.25"],
    ]

"""Pictures and tables of what a run did: curves after fit, confusion and mistakes after test."""

import csv
import json

import pytest
import torch
from PIL import Image

from callbacks.test_report import class_scores
from helpers import DIGITS, TINY, only_run_dir, read_json, run_cli
from logger_readers import wandb_offline_runs

CLASSES = ["bar", "circle", "cross"]
PICTURES = ("curves.png", "confusion_matrix.png", "misclassified.png")


def _png_size(path) -> tuple[int, int]:
    with Image.open(path) as image:
        image.verify()  # a complete, valid PNG
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def test_class_scores_from_a_confusion_matrix():
    # rows: true class, columns: predicted class
    confusion = torch.tensor([[3, 1, 0], [0, 2, 0], [1, 0, 0]])
    scores = class_scores(confusion)
    assert scores["precision"].tolist() == pytest.approx([3 / 4, 2 / 3, 0.0])
    assert scores["recall"].tolist() == pytest.approx([3 / 4, 1.0, 0.0])
    assert scores["f1"].tolist() == pytest.approx([0.75, 0.8, 0.0])
    assert scores["support"].tolist() == [4, 2, 1]


@pytest.mark.slow
def test_image_shapes_run_shows_what_it_gets_wrong(shapes_run):
    run, result = shapes_run
    assert "1 unreadable image file(s) skipped" in result.stderr and "broken.png" in result.stderr
    for name in PICTURES:
        width, height = _png_size(run / name)
        assert width >= 300 and height >= 150, (name, width, height)
    with open(run / "test_report.csv") as file:
        rows = list(csv.DictReader(file))
    assert [row["class"] for row in rows] == CLASSES
    assert sum(int(row["support"]) for row in rows) == 15  # 24 + 24 + 23 readable, 20 % each
    metrics = read_json(run / "test_metrics.json")
    for name in CLASSES:
        row = next(r for r in rows if r["class"] == name)
        assert metrics[f"test/f1/{name}"] == pytest.approx(float(row["f1"]), abs=1e-4)
    assert metrics["test/acc"] >= 0.8  # three drawn shapes are easy
    with open(run / "curves.csv") as file:
        epochs = [int(row["epoch"]) for row in csv.DictReader(file)]
    assert epochs == list(range(6))


@pytest.mark.slow
def test_pictures_reach_every_logger_that_takes_images(shapes_run):
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, _ = shapes_run
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert {"curves", "confusion_matrix", "misclassified"} <= set(events.Tags()["images"])
    client = MlflowClient(f"sqlite:///{run.parent.parent / 'mlflow.db'}")
    run_id = json.loads((run / "logger_runs.json").read_text())["mlflow"]
    artifacts = {item.path for item in client.list_artifacts(run_id)}
    assert {f"{name}" for name in PICTURES} <= artifacts
    (offline,) = wandb_offline_runs(run)
    media = {p.name.split("_")[0] for p in offline.parent.glob("files/media/images/*.png")}
    assert {"curves", "confusion"} <= media


def test_curves_of_a_resumed_run_have_every_epoch(tmp_path):
    logs = tmp_path / "logs"
    run_cli("fit", *DIGITS, *TINY, "--run.root", str(logs))
    run = only_run_dir(logs)
    run_cli(
        "fit", "-c", str(run / "config.yaml"), "--ckpt_path", "last", "--trainer.max_epochs", "3"
    )
    with open(run / "curves.csv") as file:
        rows = list(csv.DictReader(file))
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2]
    assert {"train/loss", "train/acc", "val/loss", "val/acc"} <= set(rows[0])
    assert all(row["val/acc"] for row in rows)

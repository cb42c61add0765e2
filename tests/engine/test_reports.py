"""Pictures and tables of what a run did: curves after fit, confusion and mistakes after test."""

import csv
import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from helpers import ROOT, TINY, TOY, only_run_dir, read_json, run_cli
from logger_readers import wandb_offline_runs
from runforge.callbacks.test_report import class_scores

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


def _drawn(png: bytes) -> tuple[int, int]:
    """The (width, height) of a PNG that shows something: many colours, not one flat field."""
    import io

    import numpy as np

    with Image.open(io.BytesIO(png)) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.std() > 10 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 16, "blank"
    return pixels.shape[1], pixels.shape[0]


def pictures_in_every_logger(run) -> dict[str, dict[str, tuple[int, int]]]:
    """Each logger's pictures of a run, read back with its own reader: name -> (width, height)."""
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    found = {"tensorboard": {}, "mlflow": {}, "wandb": {}}
    for tag in events.Tags()["images"]:
        found["tensorboard"][tag] = _drawn(events.Images(tag)[-1].encoded_image_string)
    client = MlflowClient(f"sqlite:///{run.parent.parent / 'mlflow.db'}")
    run_id = json.loads((run / "logger_runs.json").read_text())["mlflow"]
    for item in client.list_artifacts(run_id):
        local = client.download_artifacts(run_id, item.path, str(run / "mlflow-download"))
        found["mlflow"][item.path.removesuffix(".png")] = _drawn(Path(local).read_bytes())
    (offline,) = wandb_offline_runs(run)
    for path in offline.parent.glob("files/media/images/*.png"):
        found["wandb"][path.name.rsplit("_", 2)[0]] = _drawn(path.read_bytes())
    return found


@pytest.fixture(scope="module")
def three_logger_run(tmp_path_factory):
    """A tiny fit with --test_after_fit, logging to TensorBoard, MLflow and W&B."""
    logs = tmp_path_factory.mktemp("pictures") / "logs"
    with pytest.MonkeyPatch.context() as patch:  # module-scoped: before the autouse fixture
        patch.chdir(ROOT)
        patch.setenv("WANDB_MODE", "offline")
        patch.setenv("WANDB_SILENT", "true")
        run_cli("fit", *TOY, *TINY, "-c", "configs/logger/mlflow.yaml",
                "-c", "configs/logger/wandb.yaml", "--run.root", str(logs),
                "--test_after_fit", "true")  # fmt: skip
    return only_run_dir(logs)


def test_pictures_reach_every_logger_that_takes_images(three_logger_run):
    run = three_logger_run
    found = pictures_in_every_logger(run)
    names = {"curves", "confusion_matrix", "misclassified", "lr_curve"}
    for logger, pictures in found.items():
        assert names <= set(pictures), (logger, sorted(pictures))
        for name in names:  # the same picture as the run's own file, at its size
            assert pictures[name] == _png_size(run / f"{name}.png"), (logger, name)


@pytest.mark.slow
def test_pictures_of_an_image_folder_run_reach_every_logger(shapes_run):
    run, _ = shapes_run
    found = pictures_in_every_logger(run)
    for logger, pictures in found.items():
        assert {"curves", "confusion_matrix", "misclassified"} <= set(pictures), logger


def test_curves_of_a_resumed_run_have_every_epoch(tmp_path):
    logs = tmp_path / "logs"
    run_cli("fit", *TOY, *TINY, "--run.root", str(logs))
    run = only_run_dir(logs)
    run_cli(
        "fit", "-c", str(run / "config.yaml"), "--ckpt_path", "last", "--trainer.max_epochs", "3"
    )
    with open(run / "curves.csv") as file:
        rows = list(csv.DictReader(file))
    assert [int(row["epoch"]) for row in rows] == [0, 1, 2]
    assert {"train/loss", "train/acc", "val/loss", "val/acc"} <= set(rows[0])
    assert all(row["val/acc"] for row in rows)


class _LogitsByIndex(torch.nn.Module):
    """A stand-in classifier: image i (its one pixel holds i) gets row i of `logits`."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.logits[images.flatten().long()]


def test_the_test_report_counts_true_classes_in_rows_on_an_asymmetric_case():
    from types import SimpleNamespace

    from runforge.callbacks.report_figures import confusion_figure
    from runforge.callbacks.test_report import TestReport

    true = torch.tensor([0, 0, 0, 1, 1, 2])
    pred = torch.tensor([0, 1, 1, 1, 2, 0])
    logits = torch.nn.functional.one_hot(pred, 3).float() * 4.0
    logits[1, 1] = 5.0  # the most confident mistake: image 1, a 0 taken for a 1
    logits[4, 2] = 3.0  # the least confident one: image 4, a 1 taken for a 2
    report = TestReport(mistakes=2)
    trainer = SimpleNamespace(world_size=1, datamodule=None)
    report.on_test_epoch_start(trainer, None)
    images = torch.arange(6).view(6, 1, 1, 1)
    for batch in ((images[:4], true[:4]), (images[4:], true[4:])):
        report.on_test_batch_end(trainer, _LogitsByIndex(logits), None, batch, 0)
    assert report.confusion.tolist() == [[1, 2, 0], [0, 1, 1], [1, 0, 0]]  # [true][predicted]
    scores = class_scores(report.confusion)
    assert scores["precision"].tolist() == pytest.approx([1 / 2, 1 / 3, 0.0])
    assert scores["recall"].tolist() == pytest.approx([1 / 3, 1 / 2, 0.0])
    assert scores["support"].tolist() == [3, 2, 1]
    assert report.worst["label"].tolist() == [0, 0] and report.worst["pred"].tolist() == [1, 1]
    assert report.worst["images"].flatten().tolist() == [1, 2], "most confident first"
    figure = confusion_figure(report.confusion.numpy(), ["a", "b", "c"])
    shown = torch.as_tensor(figure.axes[0].images[0].get_array())
    rows = torch.tensor([[1 / 3, 2 / 3, 0], [0, 1 / 2, 1 / 2], [1, 0, 0]], dtype=shown.dtype)
    assert torch.allclose(shown, rows), shown
    assert figure.axes[0].get_ylabel() == "true class"


@pytest.mark.parametrize(("mode", "best"), [("max", 2), ("min", 1)])
def test_the_best_epoch_is_the_first_best_value_of_the_monitor(mode, best):
    from runforge.callbacks.curves import _best_epoch

    history = {0: {"val/x": 0.5}, 1: {"val/x": 0.2}, 2: {"val/x": 0.9}, 3: {"val/x": 0.9}}
    history[4] = {"val/x": 0.2, "train/x": 5.0}
    assert _best_epoch(history, "val/x", mode) == best

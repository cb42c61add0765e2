"""Metrics: collections per stage and loader, more metrics by name from the config."""

import csv

import pytest
import torch
from sklearn.metrics import f1_score
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from helpers import TOY, cli_error, only_run_dir, read_json, run_cli
from runforge.tasks import ImageClassifier
from runforge.tasks.stage_metrics import StageMetrics


def test_stage_metrics_name_each_stage_and_loader():
    metrics = StageMetrics({"loss": MeanMetric(), "acc": MulticlassAccuracy(3)}, ["second"])
    assert set(metrics.get("train").keys()) == {"train/loss", "train/acc"}
    assert set(metrics.get("val", 1).keys()) == {"val/loss/second", "val/acc/second"}
    assert metrics.get("test", 1)["acc"] is not metrics.get("val", 1)["acc"]
    with pytest.raises(KeyError, match="no train metrics for loader 1"):
        metrics.get("train", 1)


#: F1 and recall (macro averages) and top-3 accuracy, by name.
METRICS = (
    '{"f1": {"class_path": "torchmetrics.classification.MulticlassF1Score",'
    ' "init_args": {"average": "macro"}},'
    ' "top3": {"class_path": "torchmetrics.classification.MulticlassAccuracy",'
    ' "init_args": {"top_k": 3, "average": "micro"}},'
    ' "recall": {"class_path": "torchmetrics.classification.MulticlassRecall",'
    ' "init_args": {"average": "macro"}}}'
)


@pytest.fixture(scope="module")
def metrics_run(tmp_path_factory):
    """One epoch with three more metrics through the CLI, with the CSV logger."""
    logs = tmp_path_factory.mktemp("metrics") / "logs"
    cli = run_cli(
        "fit", *TOY, "--model.metrics", METRICS,
        "-c", "configs/logger/csv.yaml", "--trainer.max_epochs", "1",
        "--trainer.limit_train_batches", "5", "--run.root", str(logs),
    )  # fmt: skip
    return cli, only_run_dir(logs)


def test_metrics_by_name_are_logged_as_computed_by_hand(metrics_run):
    """val/f1, val/top3 and val/recall match the final weights on the whole val set."""
    cli, run = metrics_run
    with open(run / "csv" / "metrics.csv") as file:
        logged = [row for row in csv.DictReader(file) if row["val/f1"]][-1]
    dm, model = cli.datamodule, cli.model.eval()
    images, labels = dm.on_after_batch_transfer(
        (dm.datasets["val"].images, dm.datasets["val"].labels), 0
    )
    with torch.no_grad():
        logits = model(images)
    preds = logits.argmax(dim=1)
    recall = [(preds[labels == c] == c).float().mean().item() for c in labels.unique()]
    top3 = (logits.topk(3).indices == labels[:, None]).any(dim=1).float().mean().item()
    assert float(logged["val/recall"]) == pytest.approx(sum(recall) / len(recall), abs=1e-6)
    assert float(logged["val/f1"]) == pytest.approx(f1_score(labels, preds, average="macro"))
    assert float(logged["val/top3"]) == pytest.approx(top3, abs=1e-6)
    assert float(logged["val/acc"]) == pytest.approx((preds == labels).float().mean().item())
    for stage in ("train", "val"):
        assert {f"{stage}/{name}" for name in ("f1", "top3", "recall")} <= set(logged)


def test_metrics_by_name_come_back_with_the_checkpoint(metrics_run):
    cli, run = metrics_run
    ckpt = run / "checkpoints" / "last.ckpt"
    loaded = ImageClassifier.load_from_checkpoint(ckpt)
    assert set(loaded.extra_metrics) == {"f1", "top3", "recall"}
    cli.trainer.test(loaded, datamodule=cli.datamodule)
    tested = read_json(run / "test_metrics.json")
    assert {"test/f1", "test/top3", "test/recall", "test/acc", "test/loss"} <= set(tested)
    assert 0 <= tested["test/acc"] <= tested["test/top3"] <= 1 and 0 <= tested["test/recall"] <= 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--model.metrics.f1", "torchmetrics.classification.MulticlassF2"], "MulticlassF2"),
        (["--model.metrics.f1", "torch.nn.Linear"], "to be a subclass of <class 'Metric'>"),
        (["--model.metrics.acc", "torchmetrics.classification.MulticlassRecall"], "name it"),
        (
            ["--model.metrics", '{"top20": {"class_path": "torchmetrics.classification.'
             'MulticlassAccuracy", "init_args": {"top_k": 20}}}'],
            "model.metrics.top20: ",
        ),
    ],
    ids=["unknown-class", "not-a-metric", "name-taken", "bad-metric-argument"],
)  # fmt: skip
def test_a_bad_metric_is_one_error(tmp_path, capsys, args, expected):
    logs = tmp_path / "logs"
    error = cli_error(capsys, "fit", *TOY, "--run.root", str(logs), *args)
    assert expected in error
    assert not logs.exists()

"""Metrics: the custom WorstClassAccuracy, collections per stage/loader, `metrics` from YAML."""

import csv

import pytest
import torch
from sklearn.metrics import f1_score
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from helpers import DIGITS, cli_error, only_run_dir, read_json, run_cli
from metrics import WorstClassAccuracy
from runforge.tasks.stage_metrics import StageMetrics
from tasks import ImageClassifier

# Two batches of 4 classes; class 2 is absent from the first, class 3 from both.
BATCHES = [
    (torch.tensor([0, 1, 1, 0, 1]), torch.tensor([0, 0, 1, 1, 1])),
    (torch.tensor([2, 1, 0, 2]), torch.tensor([2, 1, 1, 0])),
]
# By hand: class 0: 1 of 3 right, class 1: 3 of 5, class 2: 1 of 1; class 3 is never seen
# (left out, else the worst would be 0).
WORST = 1 / 3


def test_worst_class_accuracy_by_hand():
    metric = WorstClassAccuracy(num_classes=4)
    for preds, target in BATCHES:
        metric.update(preds, target)
    assert metric.total.tolist() == [3, 5, 1, 0]
    assert metric.correct.tolist() == [1, 3, 1, 0]
    assert metric.compute().item() == pytest.approx(WORST)


def test_worst_class_accuracy_takes_class_scores():
    metric = WorstClassAccuracy(num_classes=4)
    for preds, target in BATCHES:
        metric.update(torch.nn.functional.one_hot(preds, 4).float() * 3 - 1, target)
    assert metric.compute().item() == pytest.approx(WORST)


def test_worst_class_accuracy_merges_like_processes_do():
    """Each process counts its own batches; the sums give the value of all batches."""
    first, second = WorstClassAccuracy(num_classes=4), WorstClassAccuracy(num_classes=4)
    first.update(*BATCHES[0])
    second.update(*BATCHES[1])
    first.merge_state(second)  # sums the counts, as `dist_reduce_fx="sum"` does across processes
    assert first.total.tolist() == [3, 5, 1, 0] and first.correct.tolist() == [1, 3, 1, 0]
    assert first.compute().item() == pytest.approx(WORST)
    assert second.compute().item() == pytest.approx(0.0)  # its class-0 image alone is wrong


def test_worst_class_accuracy_without_images_is_nan_and_resets():
    metric = WorstClassAccuracy(num_classes=3)
    metric.update(torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long))
    assert torch.isnan(metric.compute())
    metric.update(torch.tensor([0, 1]), torch.tensor([0, 0]))
    assert metric.compute().item() == 0.5
    metric.reset()
    assert metric.total.sum() == 0


def test_stage_metrics_name_each_stage_and_loader():
    metrics = StageMetrics({"loss": MeanMetric(), "acc": MulticlassAccuracy(3)}, ["digits"])
    assert set(metrics.get("train").keys()) == {"train/loss", "train/acc"}
    assert set(metrics.get("val", 1).keys()) == {"val/loss/digits", "val/acc/digits"}
    assert metrics.get("test", 1)["acc"] is not metrics.get("val", 1)["acc"]
    with pytest.raises(KeyError, match="no train metrics for loader 1"):
        metrics.get("train", 1)


@pytest.fixture(scope="module")
def metrics_run(tmp_path_factory):
    """One epoch of the metrics recipe through the CLI, with the CSV logger."""
    logs = tmp_path_factory.mktemp("metrics") / "logs"
    cli = run_cli(
        "fit", "-c", "configs/data/digits.yaml", "-c", "configs/model/simplenet_metrics.yaml",
        "-c", "configs/logger/csv.yaml", "--trainer.max_epochs", "1",
        "--trainer.limit_train_batches", "5", "--run.root", str(logs),
    )  # fmt: skip
    return cli, only_run_dir(logs)


def test_recipe_logs_its_metrics_as_computed_by_hand(metrics_run):
    """val/f1, val/top3 and val/worst_class_acc match the final weights on the whole val set."""
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
    assert float(logged["val/worst_class_acc"]) == pytest.approx(min(recall), abs=1e-6)
    assert float(logged["val/f1"]) == pytest.approx(f1_score(labels, preds, average="macro"))
    assert float(logged["val/top3"]) == pytest.approx(top3, abs=1e-6)
    assert float(logged["val/acc"]) == pytest.approx((preds == labels).float().mean().item())
    assert min(recall) < float(logged["val/acc"]), "the worst class is below the average"
    for stage in ("train", "val"):
        assert {f"{stage}/{name}" for name in ("f1", "top3", "worst_class_acc")} <= set(logged)


def test_recipe_metrics_come_back_with_the_checkpoint(metrics_run):
    cli, run = metrics_run
    ckpt = run / "checkpoints" / "last.ckpt"
    loaded = ImageClassifier.load_from_checkpoint(ckpt)
    assert set(loaded.extra_metrics) == {"f1", "top3", "worst_class_acc"}
    cli.trainer.test(loaded, datamodule=cli.datamodule)
    tested = read_json(run / "test_metrics.json")
    assert {"test/f1", "test/top3", "test/worst_class_acc", "test/acc", "test/loss"} <= set(tested)
    assert 0 <= tested["test/worst_class_acc"] <= tested["test/acc"] <= tested["test/top3"] <= 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--model.metrics.f1", "torchmetrics.classification.MulticlassF2"], "MulticlassF2"),
        (["--model.metrics.f1", "torch.nn.Linear"], "to be a subclass of <class 'Metric'>"),
        (["--model.metrics.acc", "metrics.WorstClassAccuracy"], "model.metrics.acc: name it"),
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
    error = cli_error(capsys, "fit", *DIGITS, "--run.root", str(logs), *args)
    assert expected in error
    assert not logs.exists()

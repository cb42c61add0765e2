"""The example metric (`src/metrics/worst_class_accuracy.py`) and the metrics recipe on digits."""

import pytest
import torch

from helpers import only_run_dir, read_json, run_cli
from metrics import WorstClassAccuracy

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


def test_the_metrics_recipe_logs_the_worst_class_below_the_average(tmp_path):
    """configs/model/simplenet_metrics.yaml: f1, top3 and worst_class_acc on digits, then test."""
    logs = tmp_path / "logs"
    run_cli(
        "fit", "-c", "configs/data/digits.yaml", "-c", "configs/model/simplenet_metrics.yaml",
        "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "5",
        "--test_after_fit", "true", "--run.root", str(logs),
    )  # fmt: skip
    tested = read_json(only_run_dir(logs) / "test_metrics.json")
    assert {"test/f1", "test/top3", "test/worst_class_acc"} <= set(tested)
    assert 0 <= tested["test/worst_class_acc"] < tested["test/acc"] <= tested["test/top3"] <= 1

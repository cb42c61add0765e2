"""The example through the real CLI in seconds: fit, test and predict on digits.

Copy this file when you replace the example: point `RECIPE` at your data and model
configs, and it checks that they train, test and predict end to end.
"""

import csv

import pytest

from helpers import DIGITS, only_run_dir, read_json, run_cli

RECIPE = DIGITS
#: Digits' fixed test part: 20 % of scikit-learn's 1,797 images.
TEST_IMAGES = 359


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """Two epochs of the recipe; the run directory."""
    logs = tmp_path_factory.mktemp("smoke") / "logs"
    run_cli("fit", *RECIPE, "--trainer.max_epochs", "2", "--run.root", str(logs))
    return only_run_dir(logs)


def test_fit_learns_far_above_chance(fitted):
    with open(fitted / "curves.csv") as file:
        last = list(csv.DictReader(file))[-1]
    assert float(last["val/acc"]) > 0.5, "chance is 0.1"
    assert (fitted / "checkpoints" / "last.ckpt").is_file()


def test_test_and_predict_read_the_checkpoint(fitted):
    again = ["-c", str(fitted / "config.yaml"), "--ckpt_path", "last"]
    run_cli("test", *again)
    assert read_json(fitted / "test_metrics.json")["test/acc"] > 0.5
    run_cli("predict", *again)
    with open(fitted / "predictions.csv") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == TEST_IMAGES and {"label", "pred", "prob"} <= set(rows[0])

"""The example's recipes (configs/data, model, experiment), each run end to end on its data.

These are the tests to keep in step with your own recipes: when you replace the example,
replace them. The engine's own tests (tests/engine/) never read these files.
"""

import csv

import pytest

from helpers import DIGITS, components, only_run_dir, read_json, run_cli
from runforge.cli.launch import resolved_config

WARMUP = ["-c", "configs/data/digits.yaml", "-c", "configs/model/simplenet_warmup_cosine.yaml"]
EMA = ["-c", "configs/callbacks/ema.yaml"]


def test_the_digits_experiment_has_the_data_and_model_of_its_recipe_files():
    recipe = resolved_config(DIGITS)
    whole = resolved_config(["-c", "configs/experiment/digits_simplenet.yaml"])
    assert whole["data"] == recipe["data"] and whole["model"] == recipe["model"]
    assert whole["test_after_fit"] is True


def test_the_digits_experiment_trains_and_tests_in_its_own_folder(tmp_path):
    experiment = "configs/experiment/digits_simplenet.yaml"
    cli = run_cli("fit", "-c", experiment, "--run.root", str(tmp_path), "--trainer.max_epochs", "2")
    run = only_run_dir(tmp_path)
    assert run.parent.name == "digits_simplenet" and cli.trainer.current_epoch == 2
    assert read_json(run / "test_metrics.json")["test/acc"] > 0.8  # chance: 0.1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("recipe", "bar"),
    [(WARMUP, 0.95), ([*WARMUP, *EMA], 0.95), (DIGITS, 0.98)],
    ids=["warmup", "warmup-ema", "make-train"],
)
def test_recipe_reaches_its_bar_on_digits(tmp_path, recipe, bar):
    logs = tmp_path / "logs"
    cli = run_cli("fit", *recipe, "--run.root", str(logs), "--test_after_fit", "true")
    run = only_run_dir(logs)
    with open(run / "lr_curve.csv") as file:
        planned_steps = len(list(csv.DictReader(file)))
    assert cli.trainer.global_step == planned_steps, "the schedule ran to its end"
    assert read_json(run / "test_metrics.json")["test/acc"] >= bar


def test_make_components_lists_the_examples_classes():
    """`make components` finds the example's data modules, networks and tasks in src/."""
    out = components()
    assert "data_modules.DigitsDataModule" in out and "models.SimpleNet" in out
    assert "Two conv blocks" in out, "each class with the first line of its docstring"


def test_make_train_runs_the_digits_recipe():
    import subprocess
    import sys

    out = subprocess.run(
        ["make", "-n", "train", f"PYTHON={sys.executable}"],
        capture_output=True,
        text=True,
    ).stdout
    expected = "src/main.py fit -c configs/data/digits.yaml -c configs/model/simplenet.yaml"
    assert f"{sys.executable} {expected}" in out

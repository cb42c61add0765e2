"""The example's recipes (configs/data, model, experiment), each run end to end on its data.

These are the tests to keep in step with your own recipes: when you replace the example,
replace them. The engine's own tests (tests/engine/) never read these files.
"""

import csv

import pytest

from helpers import DIGITS, TINY, only_run_dir, read_json, run_cli, write_shapes_folder
from runforge.cli.launch import resolved_config

EXPERIMENTS = {
    "configs/experiment/digits_simplenet.yaml": "configs/data/digits.yaml",
    "configs/experiment/mnist_simplenet.yaml": "configs/data/mnist.yaml",
}
FEW_BATCHES = ["--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1"]
FEW_BATCHES += ["--trainer.limit_test_batches", "1"]
WARMUP = ["-c", "configs/data/digits.yaml", "-c", "configs/model/simplenet_warmup_cosine.yaml"]
EMA = ["-c", "configs/callbacks/ema.yaml"]


@pytest.mark.parametrize(("experiment", "data"), EXPERIMENTS.items())
def test_an_experiment_has_the_data_and_model_of_its_recipe_files(experiment, data):
    recipe = resolved_config(["-c", data, "-c", "configs/model/simplenet.yaml"])
    whole = resolved_config(["-c", experiment])
    assert whole["data"] == recipe["data"] and whole["model"] == recipe["model"]
    assert whole["test_after_fit"] is True


def test_the_digits_experiment_trains_and_tests_in_its_own_folder(tmp_path):
    experiment = "configs/experiment/digits_simplenet.yaml"
    cli = run_cli("fit", "-c", experiment, "--run.root", str(tmp_path), "--trainer.max_epochs", "2")
    run = only_run_dir(tmp_path)
    assert run.parent.name == "digits_simplenet" and cli.trainer.current_epoch == 2
    assert read_json(run / "test_metrics.json")["test/acc"] > 0.8  # chance: 0.1


def test_the_mnist_experiment_trains_on_mnist_files(tmp_path, mnist_dir):
    data = ["--data.init_args.data_dir", str(mnist_dir), "--data.init_args.download", "false"]
    run_cli("fit", "-c", "configs/experiment/mnist_simplenet.yaml", *data,
            "--run.root", str(tmp_path), *FEW_BATCHES, "--trainer.max_epochs", "1")  # fmt: skip
    run = only_run_dir(tmp_path)
    assert run.parent.name == "mnist_simplenet"
    assert (run / "test_metrics.json").is_file()


def test_mnist_recipe_trains_on_local_idx_files(tmp_path, mnist_dir):
    cli = run_cli(
        "fit",
        "-c", "configs/data/mnist.yaml",
        "-c", "configs/model/simplenet.yaml",
        "--data.data_dir", str(mnist_dir),
        "--data.download", "false",
        "--run.root", str(tmp_path / "logs"),
        "--trainer.max_epochs", "3",
    )  # fmt: skip
    assert cli.datamodule.datasets["test"].images.shape[1:] == (1, 28, 28)
    # The fixture's images are digits, so the recipe learns them: far above chance (0.1).
    assert cli.trainer.callback_metrics["val/acc"] > 0.4


def test_the_fast_mnist_recipe_learns_on_cpu(mnist_dir, tmp_path):
    """The whole recipe (6 epochs, bf16, device-resident) on the 600-image fixture: ~3 s."""
    logs = tmp_path / "logs"
    run_cli(
        "fit", "-c", "configs/experiment/mnist_fast.yaml", "--data.data_dir", str(mnist_dir),
        "--data.download", "false", "--trainer.accelerator", "cpu", "--run.root", str(logs),
    )  # fmt: skip
    run = only_run_dir(logs)
    assert run.parent.name == "mnist_fast"
    # 12 optimizer steps on 540 images: far above chance (0.1); measured 0.74.
    assert read_json(run / "test_metrics.json")["test/acc"] > 0.5
    assert (run / "checkpoints" / "last.ckpt").is_file()


def test_the_image_folder_recipe_takes_another_image_size_as_it_is(tmp_path):
    """Its crop follows `data.image_size`: no second place to change."""
    root = write_shapes_folder(tmp_path / "images", per_class=8)
    cli = run_cli(
        "fit", "-c", "configs/data/image_folder.yaml", "-c", "configs/model/simplenet.yaml",
        "--data.root", str(root), "--data.image_size", "32", "--data.batch_size", "8",
        "--data.cache_dir", str(tmp_path / "cache"), "--run.root", str(tmp_path / "logs"), *TINY,
    )  # fmt: skip
    assert cli.trainer.state.finished and cli.datamodule.input_shape == (3, 32, 32)
    assert cli.datamodule.augment is not None


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
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "scripts/list_components.py"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("data_modules.DigitsDataModule", "data_modules.MNISTDataModule"):
        assert name in out
    for name in ("models.SimpleNet", "models.ConvAutoencoder", "tasks.ImageReconstructor"):
        assert name in out
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

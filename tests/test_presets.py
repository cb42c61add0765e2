"""configs/experiment/ and configs/debug/: each preset run end to end through the CLI."""

import pytest
from lightning.pytorch.accelerators import CPUAccelerator

from helpers import DIGITS, ROOT, only_run_dir, read_json, run_cli
from runforge.cli.launch import resolved_config

EXPERIMENTS = {
    "configs/experiment/digits_simplenet.yaml": "configs/data/digits.yaml",
    "configs/experiment/mnist_simplenet.yaml": "configs/data/mnist.yaml",
}
FEW_BATCHES = ["--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1"]
FEW_BATCHES += ["--trainer.limit_test_batches", "1"]


@pytest.mark.parametrize(("experiment", "data"), EXPERIMENTS.items())
def test_an_experiment_has_the_data_and_model_of_its_recipe_files(experiment, data):
    recipe = resolved_config(["-c", data, "-c", "configs/model/simplenet.yaml"])
    whole = resolved_config(["-c", experiment])
    assert whole["data"] == recipe["data"] and whole["model"] == recipe["model"]
    assert whole["test_after_fit"] is True


def test_a_class_key_takes_a_yaml_path_only_to_a_bare_class_file(tmp_path):
    """Why the experiment files write data/model out: the `-c` files cannot be named there."""
    from runforge.errors import ConfigError

    wrapped = tmp_path / "wrapped.yaml"
    wrapped.write_text(f"data: {ROOT / 'configs/data/digits.yaml'}\n")
    with pytest.raises(ConfigError, match='key "data"'):
        resolved_config(["-c", str(wrapped), "-c", "configs/model/simplenet.yaml"])
    bare = tmp_path / "digits_bare.yaml"
    bare.write_text("class_path: data_modules.DigitsDataModule\ninit_args: {batch_size: 17}\n")
    (tmp_path / "bare.yaml").write_text(f"data: {bare}\n")
    config = resolved_config(
        ["-c", str(tmp_path / "bare.yaml"), "-c", "configs/model/simplenet.yaml"]
    )
    assert config["data"]["init_args"]["batch_size"] == 17


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


def test_overfit_drives_the_training_loss_near_zero(tmp_path):
    cli = run_cli("fit", *DIGITS, "-c", "configs/debug/overfit.yaml", "--run.root", str(tmp_path))
    assert cli.trainer.current_epoch == 60, "EarlyStopping did not end it early"
    assert float(cli.trainer.callback_metrics["train/loss"]) < 0.05, "the last epoch's loss"
    assert float(cli.trainer.callback_metrics["train/acc"]) == 1.0


def test_limit_profiler_and_cpu_presets_together(tmp_path):
    presets = ["-c", "configs/debug/limit.yaml", "-c", "configs/debug/profiler.yaml"]
    presets += ["-c", "configs/debug/cpu.yaml"]
    cli = run_cli("fit", *DIGITS, *presets, "--run.root", str(tmp_path))
    run = only_run_dir(tmp_path)
    assert run.parent.name == "debug_cpu"
    assert cli.trainer.current_epoch == 2 and cli.trainer.global_step == 10, "2 epochs of 5"
    assert isinstance(cli.trainer.accelerator, CPUAccelerator)
    report = (run / "fit-profile.txt").read_text()
    assert "run_training_epoch" in report and "Total" in report


def test_anomaly_names_the_operation_that_made_nan(tmp_path):
    presets = ["-c", "configs/debug/anomaly.yaml", "-c", "configs/debug/limit.yaml"]
    explode = ["--model.init_args.optimizer.init_args.lr", "1e30"]
    with pytest.raises(RuntimeError, match="returned nan values"):
        run_cli("fit", *DIGITS, *presets, *explode, "--run.root", str(tmp_path))

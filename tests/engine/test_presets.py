"""configs/debug/: each preset run end to end through the CLI; class keys naming files."""

import pytest
from lightning.pytorch.accelerators import CPUAccelerator

from helpers import ROOT, TOY, only_run_dir, run_cli
from runforge.cli.launch import resolved_config


def test_a_class_key_takes_a_yaml_path_only_to_a_bare_class_file(tmp_path):
    """Why the experiment files write data/model out: the `-c` files cannot be named there."""
    from runforge.errors import ConfigError

    wrapped = tmp_path / "wrapped.yaml"
    wrapped.write_text(f"data: {ROOT / 'tests/configs/toy_data.yaml'}\n")
    with pytest.raises(ConfigError, match='key "data"'):
        resolved_config(["-c", str(wrapped), "-c", "tests/configs/toy_model.yaml"])
    bare = tmp_path / "data_bare.yaml"
    bare.write_text("class_path: toy.Bars\ninit_args: {batch_size: 17}\n")
    (tmp_path / "bare.yaml").write_text(f"data: {bare}\n")
    config = resolved_config(
        ["-c", str(tmp_path / "bare.yaml"), "-c", "tests/configs/toy_model.yaml"]
    )
    assert config["data"]["init_args"]["batch_size"] == 17


def test_overfit_drives_the_training_loss_near_zero(tmp_path):
    memorise = ["--model.net.dropout", "0", "--model.optimizer.lr", "0.01"]  # noisy labels too
    cli = run_cli(
        "fit", *TOY, "-c", "configs/debug/overfit.yaml", *memorise, "--run.root", str(tmp_path)
    )
    assert cli.trainer.current_epoch == 60, "EarlyStopping did not end it early"
    assert float(cli.trainer.callback_metrics["train/loss"]) < 0.05, "the last epoch's loss"
    assert float(cli.trainer.callback_metrics["train/acc"]) == 1.0


def test_limit_profiler_and_cpu_presets_together(tmp_path):
    presets = ["-c", "configs/debug/limit.yaml", "-c", "configs/debug/profiler.yaml"]
    presets += ["-c", "configs/debug/cpu.yaml"]
    cli = run_cli("fit", *TOY, *presets, "--run.root", str(tmp_path))
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
        run_cli("fit", *TOY, *presets, *explode, "--run.root", str(tmp_path))

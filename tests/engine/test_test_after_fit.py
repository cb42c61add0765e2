"""--test_after_fit: the best checkpoint is tested, its path printed, metrics written."""

import logging
from pathlib import Path

import pytest
from lightning.pytorch.callbacks import ModelCheckpoint

from helpers import TINY, TOY, only_run_dir, read_json, run_cli
from runforge.runs.resolve import trained_best

FAST = ["--trainer.max_epochs", "2", "--trainer.limit_train_batches", "3"]
FAST += ["--trainer.limit_val_batches", "2", "--trainer.limit_test_batches", "2"]


@pytest.fixture
def lightning_log(caplog):
    """Capture Lightning's own log lines (its logger does not propagate to the root)."""
    logger = logging.getLogger("lightning.pytorch")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


#: The second epoch runs at 1000x the rate, which ruins the weights: the best checkpoint is the
#: first epoch's and differs from the final weights.
WORSE_LATER = ["--model.lr_scheduler", "torch.optim.lr_scheduler.StepLR"]
WORSE_LATER += ["--model.lr_scheduler.step_size", "1", "--model.lr_scheduler.gamma", "1000"]
WORSE_LATER += ["--model.lr_scheduler_interval", "epoch", "--trainer.limit_train_batches", "10"]


def test_fit_then_tests_the_best_checkpoint(tmp_path, lightning_log):
    logs = tmp_path / "logs"
    cli = run_cli(
        "fit", *TOY, "--run.root", str(logs), *FAST, *WORSE_LATER, "--test_after_fit", "true"
    )
    run_dir = only_run_dir(logs)
    metrics = read_json(run_dir / "test_metrics.json")
    best = cli.trainer.checkpoint_callback.best_model_path
    assert best.startswith(str(run_dir / "checkpoints")) and Path(best).name.startswith("epoch000")
    assert f"--test_after_fit: tested {best}" in lightning_log.text
    # The saved config (with the flags in it) still drives the other subcommands.
    config = (run_dir / "config.yaml").read_text()
    assert "test_after_fit: true" in config and "git_commit_before_fit: false" in config
    # The same numbers as a separate test of the best checkpoint, not of the final weights.
    (run_dir / "test_metrics.json").unlink()
    run_cli("test", "-c", str(run_dir / "config.yaml"), "--ckpt_path", best)
    assert read_json(run_dir / "test_metrics.json") == metrics
    run_cli("test", "-c", str(run_dir / "config.yaml"), "--ckpt_path", "last")
    final = read_json(run_dir / "test_metrics.json")
    assert final["test/acc"] < metrics["test/acc"] - 0.1, (final, metrics)


def test_without_a_best_checkpoint_the_final_weights_are_tested(tmp_path, lightning_log):
    logs = tmp_path / "logs"
    # Without validation the checkpoint monitoring val/acc never saves a best one.
    run_cli("fit", *TOY, "--run.root", str(logs), *TINY, "--trainer.limit_val_batches", "0",
            "--test_after_fit", "true")  # fmt: skip
    assert "test/acc" in read_json(only_run_dir(logs) / "test_metrics.json")
    warnings = [r.getMessage() for r in lightning_log.records if r.levelno == logging.WARNING]
    assert any("no best checkpoint" in message for message in warnings), warnings
    assert "tested the final weights" in lightning_log.text


def test_flag_off_runs_no_test(tmp_path):
    logs = tmp_path / "logs"
    cli = run_cli("fit", *TOY, "--run.root", str(logs), *TINY)
    assert cli.trainer.state.fn == "fit"
    assert not (only_run_dir(logs) / "test_metrics.json").exists()


class _Trainer:
    def __init__(self, *callbacks):
        self.checkpoint_callbacks = list(callbacks)


def test_a_checkpoint_without_monitor_is_not_the_best(tmp_path):
    saved = tmp_path / "epoch=0.ckpt"
    saved.write_bytes(b"x")
    latest = ModelCheckpoint(dirpath=tmp_path)
    latest.best_model_path = str(saved)
    assert trained_best(_Trainer(latest)) is None
    monitored = ModelCheckpoint(dirpath=tmp_path, monitor="val/acc")
    monitored.best_model_path = str(saved)
    assert trained_best(_Trainer(latest, monitored)) == saved
    monitored.best_model_path = str(tmp_path / "deleted.ckpt")
    assert trained_best(_Trainer(monitored)) is None

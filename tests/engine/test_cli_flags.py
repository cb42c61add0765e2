"""CLI wiring: linked values, --ignore_warnings, eval sets, loggers, the trainer's defaults."""

import re
import warnings

import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from toy import Bars

from helpers import ROOT, TOY, only_run_dir, read_json, run_cli
from logger_readers import tensorboard_scalars
from runforge.cli import cli
from runforge.tasks import ImageClassifier

TINY = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3"]
TINY += ["--trainer.limit_val_batches", "2"]


def test_data_values_are_linked_into_network_and_task(tmp_path):
    # 7 classes of 3x12x12 images: no default of the task or the network has these values.
    data = ["--data", "helpers.ColorSquares"]
    model = ["-c", "tests/configs/toy_model.yaml"]
    cli = run_cli("fit", *model, *data, "--run.root", str(tmp_path / "logs"), *TINY)
    assert cli.model.hparams.num_classes == 7
    assert cli.model.net.classifier[-1].out_features == 7
    assert cli.model.net.features[0].in_channels == 3
    assert cli.trainer.state.finished, "the 12x12 images went through the network"
    saved = (tmp_path / "logs").glob("*/*/config.yaml")
    text = next(saved).read_text()
    assert "input_shape" not in text, "linked values are derived, not written into the config"


def _warnings_seen(tmp_path, flag: str) -> list:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        run_cli("fit", *TOY, "--run.root", str(tmp_path / flag), *TINY, "--ignore_warnings", flag)
    return seen


def test_ignore_warnings_silences_them(tmp_path):
    # Three training batches are fewer than log_every_n_steps, which Lightning warns about.
    assert _warnings_seen(tmp_path, "false")
    assert not _warnings_seen(tmp_path, "true")


#: A second draw of the engine's test data, evaluated beside the own val and test sets.
SECOND_DRAW = '{"second": {"class_path": "toy.Bars", "init_args": {"seed": 1}}}'


def test_extra_eval_sets_are_logged_by_name_while_val_acc_still_drives_checkpoints(tmp_path):
    logs = tmp_path / "logs"
    run_cli(
        "fit", *TOY, "--data.eval_sets", SECOND_DRAW, "--run.root", str(logs), *TINY,
        "--test_after_fit", "true",
    )  # fmt: skip
    run = only_run_dir(logs)
    tested = read_json(run / "test_metrics.json")
    per_class = ("test/precision/", "test/recall/", "test/f1/")  # runforge.callbacks.TestReport's
    overall = {key for key in tested if not key.startswith(per_class)}
    assert overall == {"test/acc", "test/loss", "test/acc/second", "test/loss/second"}
    assert tested["test/acc/second"] != tested["test/acc"]
    # The logged values are those of the tested (best) checkpoint on each set, by hand.
    [best] = (run / "checkpoints").glob("epoch*.ckpt")
    model = ImageClassifier.load_from_checkpoint(best).eval()
    dm = Bars(eval_sets={"second": Bars(seed=1)})
    dm.setup("test")
    for index, (suffix, data) in enumerate([("", dm), ("/second", dm.eval_sets["second"])]):
        images, labels = data.datasets["test"].images, data.datasets["test"].labels
        with torch.no_grad():
            logits = model(dm.on_after_batch_transfer((images, labels), index)[0])
        accuracy = (logits.argmax(dim=1) == labels).float().mean().item()
        loss = torch.nn.functional.cross_entropy(logits, labels).item()
        assert tested[f"test/acc{suffix}"] == pytest.approx(accuracy, abs=1e-6), suffix
        assert tested[f"test/loss{suffix}"] == pytest.approx(loss, abs=1e-5), suffix
    assert tensorboard_scalars(run / "tensorboard", "val/acc/second")
    assert [p.name for p in (run / "checkpoints").glob("epoch*.ckpt")]  # best by val/acc


def test_trains_without_validation(tmp_path):
    logs = tmp_path / "logs"
    args = ["--trainer.limit_val_batches", "0", "--trainer.limit_train_batches", "2"]
    args += ["-c", "configs/callbacks/early_stopping.yaml"]
    cli = run_cli("fit", *TOY, "--run.root", str(logs), *args, "--trainer.max_epochs", "2")
    assert cli.trainer.current_epoch == 2, "EarlyStopping would have stopped it"
    assert not any(isinstance(c, EarlyStopping) for c in cli.trainer.callbacks)
    assert (only_run_dir(logs) / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.parametrize(("logger", "has_tensorboard"), [("false", False), ("null", True)])
def test_runs_without_a_logger_or_with_lightnings_default(tmp_path, logger, has_tensorboard):
    logs = tmp_path / "logs"
    cli = run_cli("fit", *TOY, "--run.root", str(logs), *TINY, "--trainer.logger", logger)
    run = only_run_dir(logs)
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "tensorboard").is_dir() == has_tensorboard
    assert not (run / "lightning_logs").exists(), "every logger file stays in the run's layout"
    assert bool(cli.trainer.loggers) == has_tensorboard
    # The saved config starts the same kind of run again.
    again = run_cli("fit", "-c", str(run / "config.yaml"), "--run.version", "again", *TINY)
    assert bool(again.trainer.loggers) == has_tensorboard


def test_built_without_running_it_prepares_a_fit(tmp_path):
    from runforge.cli.cli import CLI

    logs = tmp_path / "logs"
    cli = CLI(args=[*TOY, "--run.root", str(logs), *TINY], run=False)
    assert cli.trainer.max_epochs == 1 and cli.model.hparams.num_classes == 10
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    run = only_run_dir(logs)
    assert (run / "config.yaml").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    assert "seed_everything: 42" in (run / "config.yaml").read_text()  # default.yaml loaded


def test_defaults_give_the_documented_trainer(tmp_path):
    cli = run_cli("fit", *TOY, "--run.root", str(tmp_path / "logs"), *TINY)
    kinds = [type(c).__name__ for c in cli.trainer.callbacks]
    documented = ("LearningRateMonitor", "LRCurve", "Curves", "TestReport")
    for name in (*documented, "ProgressBar"):
        assert name in kinds
    assert "EarlyStopping" not in kinds, "the default cosine schedule runs to its end"
    assert "RichModelSummary" in kinds and kinds.count("ModelCheckpoint") == 2
    best, last = [c for c in cli.trainer.callbacks if isinstance(c, ModelCheckpoint)]
    assert (best.monitor, best.mode, last.monitor) == ("val/acc", "max", None)
    assert cli.config.fit.seed_everything == 42 and cli.config.fit.trainer.accelerator == "auto"
    assert torch.get_float32_matmul_precision() == "high"


def test_float32_matmul_precision_has_one_default(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "DEFAULT_CONFIG", tmp_path / "absent.yaml")  # the parser alone
    built = cli.CLI(args=[*TOY, "--run.root", str(tmp_path / "logs"), *TINY], run=False)
    default = built.config.float32_matmul_precision
    assert "default.yaml" not in str(built.parser.default_config_files)
    yaml_text = (ROOT / "configs" / "default.yaml").read_text()
    assert re.search(r"^float32_matmul_precision: (\w+)", yaml_text, re.M).group(1) == default
    flags_table = (ROOT / "docs" / "configuration.md").read_text()
    row = re.search(r"\| `--float32_matmul_precision` \| `(\w+)`", flags_table)
    assert row.group(1) == default
    assert default == "high"

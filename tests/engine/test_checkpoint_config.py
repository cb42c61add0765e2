"""`--ckpt_path` versus the config: the config wins, through the real CLI.

Lightning >= 2.5.5 parses a checkpoint's hyperparameters over the config; here the model is
built from the YAML files and flags alone, weights that do not fit are one error line, and
hyperparameters that differ from the checkpoint's are listed in one warning.
"""

import shutil
import sys
from pathlib import Path

import pytest
import torch

from helpers import ROOT, TINY, TOY, cli_error, only_run_dir, run_cli

RECIPE = [str(ROOT / a) if a.endswith(".yaml") else a for a in TOY]
#: The network of the trained run: smaller than the recipe's [32, 64].
SMALL = ["--model.init_args.net.init_args.channels", "[16,32]"]
LR = "--model.init_args.optimizer.init_args.lr"
DIFFERS = "differs from the checkpoint's hyperparameters"
FEWER_BATCHES = ["--trainer.limit_test_batches", "1", "--trainer.limit_predict_batches", "1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """The `logs` folder of one tiny fit with channels [16, 32] (lr 0.003)."""
    logs = tmp_path_factory.mktemp("trained") / "logs"
    run_cli("fit", *RECIPE, *TINY, *SMALL, "--run.root", str(logs))
    return logs


@pytest.fixture
def run(trained, tmp_path) -> Path:
    """A copy of the trained run, in `tmp_path/logs`, that a test may write into."""
    shutil.copytree(trained, tmp_path / "logs")
    return only_run_dir(tmp_path / "logs")


def _in(run: Path, *args: str) -> list[str]:
    """Arguments that work in `run` (its config, its root) with `args` after them."""
    return ["-c", str(run / "config.yaml"), "--run.root", str(run.parents[1]), *args]


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def _differs(warnings: pytest.WarningsRecorder) -> list[str]:
    return [str(w.message) for w in warnings if DIFFERS in str(w.message)]


@pytest.mark.parametrize("subcommand", ["fit", "validate", "test", "predict"])
def test_a_network_that_does_not_fit_the_weights_is_one_error_and_the_run_is_untouched(
    run, capsys, subcommand
):
    before = _files(run)
    args = _in(run, "--ckpt_path", "last", "--model.init_args.net.init_args.channels", "[32,64]")
    error = cli_error(capsys, subcommand, *args)
    assert (
        "net.features.0.weight is [16, 1, 3, 3] in the checkpoint, [32, 1, 3, 3] in the model"
        in error
    )
    assert "model.init_args.net.init_args.channels=[16, 32]" in error  # what it was trained with
    assert "config.yaml" in error  # the fix
    assert _files(run) == before


def test_a_checkpoint_that_does_not_fit_leaves_no_new_run_directory(run, tmp_path, capsys):
    ckpt = str(shutil.copy(run / "checkpoints" / "last.ckpt", tmp_path / "small.ckpt"))
    logs = tmp_path / "new_logs"
    error = cli_error(capsys, "fit", *RECIPE, *TINY, "--run.root", str(logs), "--ckpt_path", ckpt)
    assert "small.ckpt" in error and "net.features.0.weight" in error
    assert not logs.exists()


def test_a_resume_with_another_lr_trains_at_it_and_one_warning_lists_the_key(run, recwarn):
    cli = run_cli("fit", *_in(run, "--ckpt_path", "last", LR, "0.01", "--trainer.max_epochs", "2"))
    (message,) = _differs(recwarn)
    assert "model.init_args.optimizer.init_args.lr (checkpoint: 0.003, config: 0.01)" in message
    assert " in 1 key;" in message  # nothing else differs from the run's own config
    assert cli.trainer.current_epoch == 2  # it resumed (epoch 0 from the checkpoint) and trained
    group = cli.trainer.optimizers[0].param_groups[0]
    assert group["initial_lr"] == 0.01  # not the 0.003 that the restored optimizer state held
    (scheduler,) = [c.scheduler for c in cli.trainer.lr_scheduler_configs]
    assert [s.base_lrs for s in scheduler._schedulers] == [[0.01, 0.01]] * 2
    saved = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["hyper_parameters"]["optimizer"]["init_args"]["lr"] == 0.01
    assert {g["initial_lr"] for g in saved["optimizer_states"][0]["param_groups"]} == {0.01}


def test_a_resume_with_the_runs_own_config_warns_of_nothing(run, recwarn):
    run_cli("validate", *_in(run, "--ckpt_path", "last"))
    assert _differs(recwarn) == []


@pytest.mark.parametrize("subcommand", ["validate", "test", "predict"])
def test_evaluating_with_another_dropout_uses_the_configs_and_warns(run, recwarn, subcommand):
    dropout = "--model.init_args.net.init_args.dropout"
    cli = run_cli(subcommand, *_in(run, "--ckpt_path", "last", dropout, "0.5", *FEWER_BATCHES))
    assert {m.p for m in cli.model.modules() if isinstance(m, torch.nn.Dropout)} == {0.5}
    (message,) = _differs(recwarn)
    assert "model.init_args.net.init_args.dropout (checkpoint: 0.25, config: 0.5)" in message


#: Crafted hyperparameters: (the task's class path, the optimizer's) at lr 123.
CRAFTED = {"sgd": (None, "torch.optim.SGD"), "marker": ("ckpt_marker.Evil", "ckpt_marker.Evil")}


@pytest.mark.parametrize("craft", CRAFTED)
def test_a_crafted_checkpoint_imports_nothing_and_changes_no_setting(run, tmp_path, recwarn, craft):
    """Its hyperparameters switch the optimizer (lr 123), or name a module that marks its import."""
    task, optimizer = CRAFTED[craft]
    marker = tmp_path / "imported"
    (tmp_path / "modules").mkdir()
    code = f"open({str(marker)!r}, 'w').close()\nclass Evil:\n    pass\n"
    (tmp_path / "modules" / "ckpt_marker.py").write_text(code)
    sys.path.insert(0, str(tmp_path / "modules"))
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    hparams = checkpoint["hyper_parameters"]
    hparams["optimizer"] = {"class_path": optimizer, "init_args": {"lr": 123.0}}
    hparams["_class_path"] = task or hparams["_class_path"]
    for group in checkpoint["optimizer_states"][0]["param_groups"]:
        group.update(lr=123.0, initial_lr=123.0)
    crafted = tmp_path / "crafted.ckpt"
    torch.save(checkpoint, crafted)
    logs = tmp_path / "new_logs"
    try:
        cli = run_cli(
            "fit", *RECIPE, *TINY, *SMALL, "--run.root", str(logs), "--ckpt_path", str(crafted),
            "--trainer.max_epochs", "2",
        )  # fmt: skip
    finally:
        sys.path.remove(str(tmp_path / "modules"))
    assert not marker.exists() and "ckpt_marker" not in sys.modules
    assert type(cli.model).__name__ == "ImageClassifier"
    built = cli.trainer.optimizers[0]
    assert type(built) is torch.optim.AdamW
    assert {g["initial_lr"] for g in built.param_groups} == {0.003}
    (message,) = _differs(recwarn)
    assert (
        f"model.init_args.optimizer.class_path (checkpoint: {optimizer}, config: torch.optim.AdamW)"
        in message
    )
    assert "model.init_args.optimizer.init_args.lr (checkpoint: 123.0, config: 0.003)" in message
    if task:
        assert (
            f"model.class_path (checkpoint: {task}, config: runforge.tasks.ImageClassifier)"
            in message
        )
    assert (
        cli.trainer.current_epoch == 2 and (only_run_dir(logs) / "checkpoints/last.ckpt").is_file()
    )


def test_a_model_that_makes_its_layers_later_is_not_refused():
    from lightning.pytorch import LightningModule

    from runforge.checkpoints.config_over_checkpoint import mismatched_tensors

    class LaterLayers(LightningModule):
        def configure_model(self):
            self.net = torch.nn.Linear(2, 2)

    weights = {"net.weight": torch.zeros(2, 2), "net.bias": torch.zeros(2)}
    assert mismatched_tensors(weights, LaterLayers()) == []
    built = LaterLayers()
    built.configure_model()
    assert mismatched_tensors({"net.weight": torch.zeros(3, 2)}, built) == [
        "net.weight is [3, 2] in the checkpoint, [2, 2] in the model",
        "net.bias is not in the checkpoint",
    ]

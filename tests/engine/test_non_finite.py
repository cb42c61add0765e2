"""A diverging fit (lr 1e10) stops with one line and never saves non-finite weights."""

import logging
import re
import sys
from unittest import mock

import pytest
import torch
from lightning.pytorch import Callback

from helpers import ROOT, TINY, TOY, cli_error, only_run_dir, read_json, run_cli, run_main
from runforge.callbacks.non_finite import NonFiniteLoss
from runforge.cli.cli import main
from runforge.tasks import ImageClassifier

DIVERGING = [
    "fit", *TOY,
    "--model.init_args.optimizer.init_args.lr", "1e30",
    "--trainer.max_epochs", "4",
    "--trainer.limit_train_batches", "5",
    "--trainer.limit_val_batches", "1",
]  # fmt: skip


def finite_checkpoints(run) -> dict[str, bool]:
    """Each checkpoint of the run: whether the network's weights and buffers are all finite.

    (A metric's state may be infinite by design: `val/acc_best` starts at -inf.)
    """
    return {
        path.name: all(
            value.isfinite().all().item()
            for key, value in torch.load(path, weights_only=True)["state_dict"].items()
            if key.startswith("net.") and value.is_floating_point()
        )
        for path in (run / "checkpoints").glob("*.ckpt")
    }


def test_a_diverging_fit_stops_with_one_line_naming_the_step(tmp_path):
    result = run_main(*DIVERGING, "--run.root", str(tmp_path / "logs"))
    assert result.returncode == 1, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    # Step 0 is finite; its update (lr 1e30) makes step 1's loss non-finite: it never applies.
    assert "loss or gradients are not finite (NaN/inf) at step 1 (epoch 0)" in errors[0], errors
    assert "Traceback" not in result.stderr
    run = only_run_dir(tmp_path / "logs")
    checkpoints = finite_checkpoints(run)
    assert all(checkpoints.values()), checkpoints
    entry = read_json(run / "provenance.json")["entries"][-1]
    assert entry["status"] == "failed" and entry["error"].startswith("NonFiniteLoss: error: ")


def test_skip_batches_skips_and_counts_the_steps_instead(tmp_path, monkeypatch, caplog):
    """Every third training batch has a NaN loss: those steps are skipped, the rest train."""
    train_step = ImageClassifier.training_step

    def nan_every_third(self, batch, batch_idx):
        loss = train_step(self, batch, batch_idx)
        return loss * float("nan") if batch_idx % 3 == 2 else loss

    monkeypatch.setattr(ImageClassifier, "training_step", nan_every_third)
    # The callback list of default.yaml with the flag on (a list given again replaces it).
    default = (ROOT / "configs" / "default.yaml").read_text()
    assert "skip_batches: false" in default
    (tmp_path / "skip.yaml").write_text(
        default.replace("skip_batches: false", "skip_batches: true")
    )
    logs = tmp_path / "logs"
    with caplog.at_level(logging.INFO):
        run_cli("fit", "-c", str(tmp_path / "skip.yaml"), *TOY, "--run.root", str(logs),
                "--trainer.max_epochs", "2", "--trainer.limit_train_batches", "6",
                "--trainer.limit_val_batches", "1")  # fmt: skip
    assert "StopOnNonFinite: skipped 4 step(s)" in caplog.text
    run = only_run_dir(logs)
    checkpoints = finite_checkpoints(run)
    assert "last.ckpt" in checkpoints and all(checkpoints.values()), checkpoints
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 12


class PoisonBuffer(Callback):
    """Sets the first batch norm's running variance to NaN after a training batch of epoch 1.

    The training loss stays finite (batch norm trains on the batch's own statistics), so
    only the check of the weights and buffers can see it.
    """

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        """Poison the buffer in the middle of epoch 1."""
        if trainer.current_epoch == 1 and batch_idx == 2:
            norm = next(m for m in pl_module.modules() if isinstance(m, torch.nn.BatchNorm2d))
            norm.running_var.fill_(float("nan"))


#: Where checkpoints are written: at the epoch's end (validation at the end or none), or
#: after a validation in the middle of the epoch.
VALIDATION = {
    "validation-at-epoch-end": ["--trainer.limit_val_batches", "1"],
    "no-validation": ["--trainer.limit_val_batches", "0"],
    "validation-mid-epoch": [
        "--trainer.limit_val_batches",
        "1",
        "--trainer.val_check_interval",
        "3",
    ],
}


@pytest.mark.filterwarnings("ignore:`ModelCheckpoint\\(monitor=.val/acc.\\)` could not find")
@pytest.mark.parametrize("validation", list(VALIDATION))
def test_non_finite_buffers_stop_the_fit_before_the_epochs_checkpoints(tmp_path, validation):
    logs = tmp_path / "logs"
    args = [*TOY, "--run.root", str(logs), "--trainer.max_epochs", "3"]
    args += ["--trainer.limit_train_batches", "5", *VALIDATION[validation]]
    args += ["--trainer.callbacks+=test_non_finite.PoisonBuffer"]
    with pytest.raises(NonFiniteLoss, match=r"weights \(parameters or buffers\) are not finite"):
        run_cli("fit", *args)
    run = only_run_dir(logs)
    checkpoints = finite_checkpoints(run)
    assert checkpoints and all(checkpoints.values()), checkpoints
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 0, "epoch 1's checkpoints, with a NaN buffer, were not written"


def _scaled_checkpoint(run, name: str, scale: float) -> str:
    """A copy of the run's last.ckpt with every network weight multiplied by `scale`."""
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    for key, value in checkpoint["state_dict"].items():
        if key.startswith("net.") and value.is_floating_point():
            checkpoint["state_dict"][key] = value * scale
    path = run.parent / name
    torch.save(checkpoint, path)
    return str(path)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One tiny fit, shared by the tests that evaluate altered copies of its weights."""
    logs = tmp_path_factory.mktemp("tiny") / "logs"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        run_cli("fit", *TOY, "--run.root", str(logs), *TINY)
    return only_run_dir(logs)


def test_a_checkpoint_with_non_finite_weights_is_refused_before_testing(tiny_run, capsys):
    nan = _scaled_checkpoint(tiny_run, "nan.ckpt", float("nan"))
    error = cli_error(capsys, "test", "-c", str(tiny_run / "config.yaml"), "--ckpt_path", nan)
    assert f"--ckpt_path {nan}: its weights are not finite (NaN/inf in net." in error
    assert not (tiny_run / "test_metrics.json").exists()


def test_a_non_finite_test_result_is_one_error_and_writes_no_metrics(tiny_run, capsys):
    """Finite weights so large that the logits overflow: test/loss is NaN."""
    huge = _scaled_checkpoint(tiny_run, "huge.ckpt", 1e30)
    with pytest.raises(SystemExit) as stopped, mock.patch.object(sys, "argv", ["src/main.py"]):
        main(["test", "-c", str(tiny_run / "config.yaml"), "--ckpt_path", huge])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert stopped.value.code == 1 and len(errors) == 1, errors
    assert re.match(
        rf"error: test: test/\S+( and |, )?.* not finite \(NaN/inf\) with {huge}", errors[0]
    )
    assert "test_metrics.json was not written" in errors[0]
    assert not (tiny_run / "test_metrics.json").exists()


def test_resuming_with_fewer_epochs_than_the_checkpoint_has_is_one_error(tiny_run, capsys):
    config = str(tiny_run / "config.yaml")
    error = cli_error(
        capsys, "fit", "-c", config, "--ckpt_path", "last", "--trainer.max_epochs", "0"
    )
    assert "trainer.max_epochs=0: must be >= 1" in error  # the trainer's own rule comes first
    checkpoint = torch.load(tiny_run / "checkpoints" / "last.ckpt", weights_only=True)
    checkpoint["epoch"] = 5
    ahead = tiny_run.parent / "ahead.ckpt"
    torch.save(checkpoint, ahead)
    error = cli_error(capsys, "fit", "-c", config, "--ckpt_path", str(ahead),
                      "--trainer.max_epochs", "3")  # fmt: skip
    assert f"trainer.max_epochs=3: {ahead} is at epoch 5 already" in error
    assert "give --trainer.max_epochs 6 or more" in error

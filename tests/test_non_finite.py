"""A diverging fit (lr 1e10) stops with one line and never saves non-finite weights."""

import logging

import pytest
import torch
from lightning.pytorch import Callback

from callbacks.non_finite import NonFiniteLoss
from helpers import DIGITS, ROOT, only_run_dir, read_json, run_cli, run_main
from tasks import ImageClassifier

DIVERGING = [
    "fit", *DIGITS,
    "--model.init_args.optimizer.init_args.lr", "1e10",
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
    # Step 0 is finite; its update (lr 1e10) makes step 1's loss non-finite: it never applies.
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
        run_cli("fit", "-c", str(tmp_path / "skip.yaml"), *DIGITS, "--run.root", str(logs),
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
    args = [*DIGITS, "--run.root", str(logs), "--trainer.max_epochs", "3"]
    args += ["--trainer.limit_train_batches", "5", *VALIDATION[validation]]
    args += ["--trainer.callbacks+=test_non_finite.PoisonBuffer"]
    with pytest.raises(NonFiniteLoss, match=r"weights \(parameters or buffers\) are not finite"):
        run_cli("fit", *args)
    run = only_run_dir(logs)
    checkpoints = finite_checkpoints(run)
    assert checkpoints and all(checkpoints.values()), checkpoints
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 0, "epoch 1's checkpoints, with a NaN buffer, were not written"

"""A diverging fit (lr 1e10) stops with one line and never saves non-finite weights."""

import logging

import torch

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
    """Each checkpoint of the run: whether all its weights are finite."""
    return {
        path.name: all(
            value.isfinite().all().item()
            for value in torch.load(path, weights_only=True)["state_dict"].values()
            if value.is_floating_point()
        )
        for path in (run / "checkpoints").glob("*.ckpt")
    }


def test_a_diverging_fit_stops_with_one_line_naming_the_step(tmp_path):
    result = run_main(*DIVERGING, "--run.root", str(tmp_path / "logs"))
    assert result.returncode == 1, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "not finite (NaN/inf) at step " in errors[0], result.stderr[-3000:]
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

"""ImageClassifier: injected optimizer/scheduler variants, checkpoint loading, predictions."""

import pytest
import torch
from lightning.pytorch import Trainer
from toy import Bars, TinyNet

from helpers import TOY, run_cli
from runforge.tasks import ImageClassifier

TINY = ["--trainer.max_epochs", "2", "--trainer.limit_train_batches", "3"]
TINY += ["--trainer.limit_val_batches", "2"]


def _fit(tmp_path, *args):
    return run_cli("fit", *TOY, "--run.root", str(tmp_path / "logs"), *TINY, *args)


def _lr(cli) -> float:
    return cli.trainer.optimizers[0].param_groups[0]["lr"]


def test_no_scheduler_keeps_the_rate(tmp_path):
    cli = _fit(tmp_path, "--model.lr_scheduler", "null", "--model.optimizer.lr", "0.01")
    assert cli.trainer.lr_scheduler_configs == []
    assert _lr(cli) == pytest.approx(0.01)


def test_epoch_scheduler_steps_once_per_epoch(tmp_path):
    cli = _fit(
        tmp_path,
        "--model.optimizer.lr", "0.01",
        "--model.lr_scheduler", "torch.optim.lr_scheduler.StepLR",
        "--model.lr_scheduler.step_size", "1",
        "--model.lr_scheduler.gamma", "0.5",
    )  # fmt: skip
    assert cli.trainer.lr_scheduler_configs[0].interval == "epoch"
    assert _lr(cli) == pytest.approx(0.01 * 0.5**2)


def test_reduce_on_plateau_watches_val_loss(tmp_path):
    cli = _fit(
        tmp_path,
        "--model.lr_scheduler", "torch.optim.lr_scheduler.ReduceLROnPlateau",
        "--model.lr_scheduler.patience", "0",
    )  # fmt: skip
    config = cli.trainer.lr_scheduler_configs[0]
    assert isinstance(config.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert config.monitor == "val/loss"
    assert config.scheduler.best < float("inf"), "the scheduler must have seen val/loss"


def test_only_trainable_parameters_reach_the_optimizer(tmp_path):
    cli = _fit(tmp_path, "--trainer.max_epochs", "1")
    model = cli.model
    for p in model.net.features.parameters():
        p.requires_grad_(False)
    optimizer = model.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    passed = {id(p) for group in optimizer.param_groups for p in group["params"]}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert passed == trainable


def test_load_from_checkpoint_with_default_weights_only(trained_run):
    ckpt = trained_run / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(ckpt, weights_only=True)  # raises if anything pickled is inside
    assert checkpoint["hyper_parameters"]["_class_path"] == "runforge.tasks.ImageClassifier"
    model = ImageClassifier.load_from_checkpoint(ckpt).eval()
    dm = Bars()
    dm.setup("test")
    images, labels = dm.on_after_batch_transfer(
        (dm.datasets["test"].images, dm.datasets["test"].labels), 0
    )
    with torch.no_grad():
        out = model.predict_step((images, labels), 0)
    assert (out["pred"] == labels).float().mean() >= 0.9  # 5% of the labels are wrong
    assert torch.all((out["prob"] > 0) & (out["prob"] <= 1))


def test_a_task_built_in_python_saves_a_safe_checkpoint(tmp_path):
    model = ImageClassifier(TinyNet((1, 8, 8), 10), num_classes=10)
    trainer = Trainer(
        max_steps=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(model, datamodule=Bars())
    trainer.save_checkpoint(tmp_path / "python.ckpt")

    hparams = torch.load(tmp_path / "python.ckpt", weights_only=True)["hyper_parameters"]
    assert hparams["num_classes"] == 10 and "net" not in hparams
    loaded = ImageClassifier.load_from_checkpoint(
        tmp_path / "python.ckpt", net=TinyNet((1, 8, 8), 10)
    )
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_logs_every_documented_metric(tmp_path):
    cli = _fit(tmp_path)
    logged = set(cli.trainer.callback_metrics)
    assert {"train/loss", "train/acc", "val/loss", "val/acc", "val/acc_best"} <= logged
    cli.trainer.test(cli.model, datamodule=cli.datamodule)
    assert {"test/loss", "test/acc"} <= set(cli.trainer.callback_metrics)


class _FixedLogits(torch.nn.Module):
    """A network whose logits are given: image i (its one pixel holds i) gets row i."""

    def __init__(self, logits: list[list[float]]) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(torch.tensor(logits))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.logits[images.flatten().long()]


def test_the_loss_is_the_cross_entropy_of_the_logits_on_a_fixed_batch():
    import math

    from torch.utils.data import DataLoader, TensorDataset

    logits = [[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [0.0, 0.0, 3.0]]
    labels = [0, 2, 2]
    expected = sum(
        math.log(sum(math.exp(v) for v in row)) - row[label]
        for row, label in zip(logits, labels, strict=True)
    ) / len(labels)
    model = ImageClassifier(net=_FixedLogits(logits), num_classes=3)
    images = torch.arange(3.0).view(3, 1, 1, 1)
    loader = DataLoader(TensorDataset(images, torch.tensor(labels)), batch_size=3)
    trainer = Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    [metrics] = trainer.validate(model, loader, verbose=False)
    assert metrics["val/loss"] == pytest.approx(expected, abs=1e-6)
    assert metrics["val/acc"] == pytest.approx(2 / 3)


def test_val_acc_best_is_the_best_validation_accuracy_so_far(tmp_path):
    from helpers import only_run_dir
    from logger_readers import tensorboard_scalars

    logs = tmp_path / "logs"
    run_cli("fit", *TOY, "--run.root", str(logs), "--trainer.max_epochs", "4",
            "--trainer.limit_train_batches", "4", "--trainer.limit_val_batches", "2")  # fmt: skip
    folder = only_run_dir(logs) / "tensorboard"
    val, best, train = (
        [value for _, value in tensorboard_scalars(folder, key)]
        for key in ("val/acc", "val/acc_best", "train/acc")
    )
    assert len(val) == len(best) == 4
    assert best == pytest.approx([max(val[: i + 1]) for i in range(4)])
    assert [max(train[: i + 1]) for i in range(4)] != pytest.approx(best), "train differs"

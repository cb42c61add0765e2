"""The data module's num_classes/input_shape reach the task and network, or fail loudly."""

import pytest
import torch

from helpers import TOY, cli_error, only_run_dir, run_cli
from runforge.tasks import ImageClassifier

FEW = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2"]
FEW += ["--trainer.limit_val_batches", "1", "--data.batch_size", "16"]
RESNET = ["--model", "runforge.tasks.ImageClassifier", "--model.net", "torchvision.models.resnet18"]


@pytest.mark.parametrize(
    ("data", "missing"),
    [("toy.WithoutInputShape", "input_shape"), ("toy.WithoutNumClasses", "num_classes")],
)
def test_a_data_module_without_a_linked_attribute_is_one_error(tmp_path, capsys, data, missing):
    logs = tmp_path / "logs"
    error = cli_error(capsys, "fit", *TOY, "--data", data, "--run.root", str(logs), *FEW)
    assert f"data.{missing}: {data.split('.')[1]} does not set `{missing}`" in error
    assert not logs.exists(), "a failed start must not leave a run directory"


@pytest.mark.parametrize("data", ["toy.RandomImages", "toy.WithoutInputShape"])
def test_a_torchvision_factory_function_is_a_network(tmp_path, data):
    """resnet18 takes num_classes from the data; input_shape, which it does not take, is skipped."""
    cli = run_cli("fit", "--data", data, *RESNET, "--run.root", str(tmp_path / "logs"), *FEW)
    model = cli.model
    assert model.net.fc.out_features == 10 and model.net.conv1.in_channels == 3
    assert cli.trainer.current_epoch == 1 and cli.trainer.global_step == 2
    assert torch.isfinite(cli.trainer.callback_metrics["val/loss"])

    run = only_run_dir(tmp_path / "logs")
    assert "class_path: torchvision.models.resnet18" in (run / "config.yaml").read_text()
    loaded = ImageClassifier.load_from_checkpoint(run / "checkpoints" / "last.ckpt")
    assert loaded.net.fc.out_features == 10
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value.cpu()), key

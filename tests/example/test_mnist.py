"""The MNIST example: its data module reads idx files (written by a fixture, never
downloaded) and keeps the official test set; its recipes and experiments train on them.

`copier copy` leaves this file out with the MNIST example (copier.yml's `examples`).
"""

import pytest
import torch

from data_modules import MNISTDataModule
from helpers import components, only_run_dir, read_json, run_cli
from runforge.cli.launch import resolved_config
from runforge.errors import ConfigError

FEW_BATCHES = ["--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1"]
FEW_BATCHES += ["--trainer.limit_test_batches", "1"]


def test_link_sources_are_known_before_setup():
    assert MNISTDataModule().input_shape == (1, 28, 28)


def test_mnist_reads_idx_files_and_keeps_the_official_test_set(mnist_dir):
    dm = MNISTDataModule(data_dir=str(mnist_dir), val_fraction=0.1, download=False)
    dm.prepare_data()
    dm.setup("fit")
    assert {k: len(v) for k, v in dm.datasets.items()} == {"train": 540, "val": 60, "test": 100}
    assert dm.datasets["test"].images.shape == (100, 1, 28, 28)
    assert dm.datasets["train"].images.dtype == torch.uint8
    images, labels = next(iter(dm.test_dataloader()))
    images, _ = dm.on_after_batch_transfer((images, labels), 0)
    assert images.dtype == torch.float32 and images.shape[1:] == (1, 28, 28)


def test_mnist_without_files_and_download_says_where(tmp_path):
    dm = MNISTDataModule(data_dir=str(tmp_path), download=False)
    with pytest.raises(ConfigError, match=r"MNIST/raw.*set data.download true"):
        dm.prepare_data()


def test_mnist_download_failure_says_so(tmp_path, monkeypatch):
    import torchvision.datasets

    class Offline(torchvision.datasets.MNIST):  # keeps MNIST.resources, the files looked for
        def __init__(self, *args, **kwargs):
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets, "MNIST", Offline)
    dm = MNISTDataModule(data_dir=str(tmp_path), download=True)
    with pytest.raises(ConfigError, match="download failed .Error downloading"):
        dm.prepare_data()


def test_mnist_files_present_are_not_read_to_prepare(mnist_dir, monkeypatch):
    import torchvision.datasets

    class Unread(torchvision.datasets.MNIST):  # reading the files would construct MNIST
        def __init__(self, *args, **kwargs):
            raise AssertionError("prepare_data read the images")

    monkeypatch.setattr(torchvision.datasets, "MNIST", Unread)
    MNISTDataModule(data_dir=str(mnist_dir), download=False).prepare_data()


def test_the_mnist_experiment_has_the_data_and_model_of_its_recipe_files():
    data = ["-c", "configs/data/mnist.yaml", "-c", "configs/model/simplenet.yaml"]
    recipe = resolved_config(data)
    whole = resolved_config(["-c", "configs/experiment/mnist_simplenet.yaml"])
    assert whole["data"] == recipe["data"] and whole["model"] == recipe["model"]
    assert whole["test_after_fit"] is True


def test_the_mnist_experiment_trains_on_mnist_files(tmp_path, mnist_dir):
    data = ["--data.init_args.data_dir", str(mnist_dir), "--data.init_args.download", "false"]
    run_cli("fit", "-c", "configs/experiment/mnist_simplenet.yaml", *data,
            "--run.root", str(tmp_path), *FEW_BATCHES, "--trainer.max_epochs", "1")  # fmt: skip
    run = only_run_dir(tmp_path)
    assert run.parent.name == "mnist_simplenet"
    assert (run / "test_metrics.json").is_file()


def test_mnist_recipe_trains_on_local_idx_files(tmp_path, mnist_dir):
    cli = run_cli(
        "fit",
        "-c", "configs/data/mnist.yaml",
        "-c", "configs/model/simplenet.yaml",
        "--data.data_dir", str(mnist_dir),
        "--data.download", "false",
        "--run.root", str(tmp_path / "logs"),
        "--trainer.max_epochs", "3",
    )  # fmt: skip
    assert cli.datamodule.datasets["test"].images.shape[1:] == (1, 28, 28)
    # The fixture's images are digits, so the recipe learns them: far above chance (0.1).
    assert cli.trainer.callback_metrics["val/acc"] > 0.4


def test_the_fast_mnist_recipe_learns_on_cpu(mnist_dir, tmp_path):
    """The whole recipe (6 epochs, bf16, device-resident) on the 600-image fixture: ~3 s."""
    logs = tmp_path / "logs"
    run_cli(
        "fit", "-c", "configs/experiment/mnist_fast.yaml", "--data.data_dir", str(mnist_dir),
        "--data.download", "false", "--trainer.accelerator", "cpu", "--run.root", str(logs),
    )  # fmt: skip
    run = only_run_dir(logs)
    assert run.parent.name == "mnist_fast"
    # 12 optimizer steps on 540 images: far above chance (0.1); measured 0.74.
    assert read_json(run / "test_metrics.json")["test/acc"] > 0.5
    assert (run / "checkpoints" / "last.ckpt").is_file()


def test_make_components_lists_the_mnist_data_module():
    assert "data_modules.MNISTDataModule" in components()

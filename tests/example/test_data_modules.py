"""The example's data modules: digits' fixed splits, MNIST's files (written by a fixture)."""

import pytest
import torch

from data_modules import DigitsDataModule, MNISTDataModule
from runforge.errors import ConfigError


def _rows(images: torch.Tensor) -> set[bytes]:
    return {bytes(row.numpy().tobytes()) for row in images.flatten(1)}


def test_digits_splits_are_disjoint_and_sized():
    dm = DigitsDataModule(val_fraction=0.1, test_fraction=0.2)
    dm.setup("fit")
    sizes = {k: len(v) for k, v in dm.datasets.items()}
    assert sizes == {"train": 1294, "val": 144, "test": 359}
    train, val, test = (_rows(dm.datasets[k].images) for k in ("train", "val", "test"))
    # The 1,797 digits are all distinct images, so disjoint contents mean disjoint samples.
    assert len(train | val | test) == 1797
    assert not (test & train) and not (test & val) and not (train & val)


def test_digits_test_split_is_fixed_whatever_the_seed():
    a, b = DigitsDataModule(split_seed=1), DigitsDataModule(split_seed=2)
    a.setup(), b.setup()
    assert torch.equal(a.datasets["test"].images, b.datasets["test"].images)
    assert not torch.equal(a.datasets["val"].images, b.datasets["val"].images)
    c = DigitsDataModule(split_seed=1)
    c.setup()
    assert torch.equal(a.datasets["val"].labels, c.datasets["val"].labels)


def test_link_sources_are_known_before_setup():
    assert DigitsDataModule().num_classes == 10
    assert DigitsDataModule().input_shape == (1, 8, 8)
    assert MNISTDataModule().input_shape == (1, 28, 28)


@pytest.mark.parametrize(
    "kwargs", [{"batch_size": 0}, {"val_fraction": 1.5}, {"test_fraction": 0.0}]
)
def test_bad_arguments_name_the_argument(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        DigitsDataModule(**kwargs)


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

"""The example's data module: digits' fixed, disjoint splits and its arguments' checks."""

import pytest
import torch

from data_modules import DigitsDataModule


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


@pytest.mark.parametrize(
    "kwargs", [{"batch_size": 0}, {"val_fraction": 1.5}, {"test_fraction": 0.0}]
)
def test_bad_arguments_name_the_argument(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        DigitsDataModule(**kwargs)

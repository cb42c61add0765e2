"""The in-memory base on the engine's own data: batches at once, per-batch normalisation."""

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor
from toy import Bars

from runforge.data.tensor_dataset import TensorBatchDataset


class LargerBars(Bars):
    """The same bars drawn twice as large (16x16): an own loader to which eval sets resize."""

    input_shape = (1, 16, 16)

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        """Bars' images, each pixel repeated 2x2."""
        parts = super().load()
        return {
            k: (x.repeat_interleave(2, -1).repeat_interleave(2, -2), y)
            for k, (x, y) in parts.items()
        }


def test_batches_are_gathered_at_once_and_normalised_per_batch(monkeypatch):
    dm = Bars(batch_size=32)
    dm.setup("fit")

    def no_single_items(self, index):
        raise AssertionError("per-sample __getitem__ must not be used")

    monkeypatch.setattr(TensorBatchDataset, "__getitem__", no_single_items)
    images, labels = next(iter(dm.train_dataloader()))
    assert images.dtype == torch.uint8 and images.shape == (32, 1, 8, 8)
    assert labels.dtype == torch.long and labels.shape == (32,)
    images, _ = dm.on_after_batch_transfer((images, labels), 0)
    assert images.dtype == torch.float32
    everything = dm.on_after_batch_transfer((dm.datasets["train"].images, labels), 0)[0]
    assert abs(everything.mean().item()) < 0.05 and abs(everything.std().item() - 1) < 0.05


def test_splits_are_disjoint_seeded_and_the_test_part_never_moves():
    a, b, again = Bars(split_seed=1), Bars(split_seed=2), Bars(split_seed=1)
    for dm in (a, b, again):
        dm.setup("fit")
    assert {k: len(v) for k, v in a.datasets.items()} == {"train": 1152, "val": 288, "test": 360}
    assert torch.equal(a.datasets["test"].images, b.datasets["test"].images)
    assert not torch.equal(a.datasets["val"].images, b.datasets["val"].images)
    assert torch.equal(a.datasets["val"].images, again.datasets["val"].images)
    rows = {k: {bytes(r.numpy()) for r in a.datasets[k].images.flatten(1)} for k in a.datasets}
    assert not (rows["train"] & rows["val"]), "a noisy image is never drawn twice"


def test_predict_dataloader_is_the_test_set_in_order():
    dm = Bars(batch_size=100)
    dm.setup("predict")
    labels = torch.cat([batch[1] for batch in dm.predict_dataloader()])
    assert torch.equal(labels, dm.datasets["test"].labels)


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"val_fraction": 1.5}])
def test_bad_arguments_name_the_argument(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Bars(**kwargs)


def test_extra_eval_sets_follow_the_own_loaders_preprocessed_their_own_way():
    small = Bars(batch_size=16, seed=1)
    dm = LargerBars(eval_sets={"small": small})
    dm.setup("fit")
    assert dm.eval_set_names == ("small",)
    own_val, extra_val = dm.val_dataloader()
    own_test, extra_test = dm.test_dataloader()
    assert len(extra_val.dataset) == len(extra_test.dataset) == len(small.datasets["test"])
    assert len(own_val.dataset) == 288 and len(own_test.dataset) == 360
    images, labels = next(iter(extra_test))
    moved, same_labels = dm.on_after_batch_transfer((images, labels), 1)
    assert moved.shape == (16, 1, 16, 16) and torch.equal(same_labels, labels)
    # The eval set's own scaling and statistics, then resized to the own 16x16.
    expected = F.interpolate(small.preprocess(images), size=(16, 16), mode="bilinear")
    assert torch.allclose(moved, expected)


def test_an_eval_set_with_other_classes_is_refused():
    class FiveBars(Bars):
        num_classes = 5

    with pytest.raises(ValueError, match="eval_sets.five: FiveBars has 5 classes"):
        Bars(eval_sets={"five": FiveBars()})

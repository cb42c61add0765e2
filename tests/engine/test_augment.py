"""Training-only batch augmentation: a random draw per image, seeded, resumable, never in eval."""

import json

import pytest
import torch
from torchvision.transforms import v2
from toy import Bars

import helpers
from helpers import TINY, TOY, only_run_dir, run_cli
from runforge.data.augment import BatchAugment
from runforge.errors import ConfigError

CROP = v2.RandomResizedCrop(size=(16, 16), scale=(0.1, 0.3), antialias=True)


@pytest.fixture
def twins() -> torch.Tensor:
    """A batch of two copies of one random RGB image, uint8."""
    image = torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8, generator=torch.Generator())
    return torch.stack([image, image])


def test_two_images_of_one_batch_get_different_crops(twins):
    torch.manual_seed(0)
    whole = CROP(twins.float())  # torchvision alone: one draw for the whole batch
    assert torch.equal(whole[0], whole[1])
    out = BatchAugment([CROP])(twins)
    assert out.shape == (2, 3, 16, 16) and out.dtype == torch.float32
    assert not torch.allclose(out[0], out[1])


def test_draws_are_seeded_and_leave_the_global_generator_alone(twins):
    torch.manual_seed(3)
    before = torch.get_rng_state()
    first = BatchAugment([CROP])(twins)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(3)
    assert torch.equal(BatchAugment([CROP])(twins), first)
    torch.manual_seed(4)
    assert not torch.equal(BatchAugment([CROP])(twins), first)


def test_a_restored_state_continues_the_same_draws(twins):
    torch.manual_seed(0)
    straight = BatchAugment([CROP])
    straight(twins)
    expected = straight(twins)
    torch.manual_seed(0)
    interrupted = BatchAugment([CROP])
    interrupted(twins)
    state = interrupted.state_dict()
    resumed = BatchAugment([CROP])
    resumed.load_state_dict(state)
    assert torch.equal(resumed(twins), expected)


def test_images_come_in_zero_one_and_go_back_to_the_stored_scale():
    seen = []
    images = torch.tensor([[[[0, 8], [16, 4]]]], dtype=torch.uint8)
    out = BatchAugment([lambda image: seen.append(image) or image], max_value=16.0)(images)
    assert seen[0].max() == 1.0 and seen[0].min() == 0.0
    assert torch.equal(out, images.float())


AUGMENT = json.dumps(
    [
        {"class_path": "torchvision.transforms.v2.RandomResizedCrop",
         "init_args": {"size": [8, 8], "scale": [0.6, 1.0]}},
        "helpers.record_draw",
    ]
)  # fmt: skip


def _fit(logs, *args):
    return run_cli("fit", *TOY, "--run.root", str(logs), "--data.augment", AUGMENT, *args)


@pytest.mark.slow
def test_only_training_batches_are_augmented_and_resume_continues_the_draws(tmp_path):
    helpers.DRAWS.clear()
    straight = tmp_path / "straight"
    _fit(straight, *TINY, "--trainer.max_epochs", "2", "--test_after_fit", "true")
    # 2 epochs x 2 training batches x 64 images; the validation and test batches are not.
    assert len(helpers.DRAWS) == 2 * 2 * 64
    expected = list(helpers.DRAWS)
    run_cli("predict", "-c", str(only_run_dir(straight) / "config.yaml"), "--ckpt_path", "last")
    assert len(helpers.DRAWS) == len(expected), "predict must not augment"

    helpers.DRAWS.clear()
    logs = tmp_path / "resumed"
    _fit(logs, *TINY)
    run = only_run_dir(logs)
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert "rng_state" in state["Bars"]["augment"]
    run_cli(
        "fit", "-c", str(run / "config.yaml"), "--ckpt_path", "last", "--trainer.max_epochs", "2"
    )
    assert helpers.DRAWS == expected


def test_without_augment_nothing_changes():
    dm = Bars()
    assert dm.augment is None and dm.state_dict() == {}


def test_transforms_that_change_the_size_are_a_config_error(twins):
    grow = v2.RandomResizedCrop(size=(32, 32))
    with pytest.raises(ConfigError, match=r"data.augment: .*\(3, 16, 16\) into \(3, 32, 32\)"):
        BatchAugment([grow])(twins)


def test_the_shipped_crop_keeps_each_images_size_and_crops():
    from runforge.data.crops import RandomResizedCrop

    torch.manual_seed(0)
    image = torch.arange(3 * 32 * 32, dtype=torch.float32).view(3, 32, 32) / (3 * 32 * 32)
    crop = RandomResizedCrop(scale=(0.3, 0.5))
    out = crop(image)
    assert out.shape == image.shape and not torch.equal(out, image)
    assert crop(image[:, :20, :24]).shape == (3, 20, 24), "follows whatever size it gets"
    assert RandomResizedCrop(size=16)(image).shape == (3, 16, 16), "a given size is kept"


def test_only_training_batches_are_augmented(tmp_path):
    """One epoch of two training batches of 64: 128 draws; validation and test draw none."""
    helpers.DRAWS.clear()
    _fit(tmp_path / "logs", *TINY, "--test_after_fit", "true")
    assert len(helpers.DRAWS) == 2 * 64

"""Training-time augmentation of whole batches on the device, with a draw per image."""

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from runforge.errors import ConfigError

Transform = Callable[[Tensor], Tensor]


class BatchAugment:
    """Apply `transforms` in order to every image of a batch, each image with its own draw.

    torchvision's v2 transforms draw their random parameters once per call, so a batch
    given to them whole gets one crop for all its images; here each image is transformed
    on its own. Images reach the transforms as float (C, H, W) in [0, 1] on the batch's
    device (the range torchvision's colour transforms expect) and go back to the stored
    scale. The random draws come from the CPU generator of this object, seeded on first
    use from the run's seed (`seed_everything`), and its state is saved in checkpoints, so
    a resumed run continues the same sequence of draws.

    Args:
        transforms: Callables taking and returning one float image (C, H, W), e.g.
            `torchvision.transforms.v2.RandomResizedCrop(size=[64, 64], scale=[0.6, 1])`.
        max_value: The stored scale of the pixels (images are divided by it first).
    """

    def __init__(self, transforms: Sequence[Transform], max_value: float = 255.0) -> None:
        self.transforms = list(transforms)
        self.max_value = max_value
        self._rng_state: Tensor | None = None

    def _apply(self, image: Tensor) -> Tensor:
        for transform in self.transforms:
            image = transform(image)
        return image

    def __call__(self, images: Tensor) -> Tensor:
        """The augmented batch (N, C, H, W), float, in the stored scale of `images`."""
        if self._rng_state is None:
            self._rng_state = torch.Generator().manual_seed(torch.initial_seed()).get_state()
        scaled = images.float() / self.max_value
        with torch.random.fork_rng(devices=[]):  # the global CPU generator is left as it was
            torch.set_rng_state(self._rng_state)
            augmented = torch.stack([self._apply(image) for image in scaled])
            self._rng_state = torch.get_rng_state()
        if augmented.shape != images.shape:
            raise ConfigError(
                f"data.augment: the transforms turn images of shape {tuple(images.shape[1:])} "
                f"into {tuple(augmented.shape[1:])}; give them the stored image size"
            )
        return augmented * self.max_value

    def state_dict(self) -> dict[str, Any]:
        """The generator's state, for checkpoints."""
        return {} if self._rng_state is None else {"rng_state": self._rng_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the draws of a checkpoint."""
        if "rng_state" in state:
            self._rng_state = state["rng_state"]

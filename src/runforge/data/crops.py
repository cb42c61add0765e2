"""A random crop for training augmentation that keeps the size of the images it gets."""

from collections.abc import Sequence
from typing import Any

from torchvision.transforms import v2
from torchvision.transforms.v2 import functional


class RandomResizedCrop(v2.RandomResizedCrop):
    """torchvision's `RandomResizedCrop` whose crop is resized back to the image's own size.

    A random part of each image (`scale` of its area, aspect ratio in `ratio`) is cut out and
    resized to `size`, or, with `size` left empty, to the size of the image it came from, so
    the crop follows the data's `image_size` (`--data.image_size 32` needs no other change).

    Args:
        size: Output (height, width); null: the input image's size.
        scale: Range of the crop's area, as a part of the image's area.
        ratio: Range of the crop's aspect ratio (width / height).
        interpolation: How the crop is resized (`bilinear`, `nearest`, ...).
        antialias: Antialias when the crop is made smaller.
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
        interpolation: str = "bilinear",
        antialias: bool = True,
    ) -> None:
        super().__init__(size or 1, scale, ratio, interpolation, antialias)
        self.follows_input = size is None

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        """Crop `inpt` as `params` say and resize the crop to the output size."""
        size = list(inpt.shape[-2:]) if self.follows_input else self.size
        return functional.resized_crop(
            inpt, **params, size=size, interpolation=self.interpolation, antialias=self.antialias
        )

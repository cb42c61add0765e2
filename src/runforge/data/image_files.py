"""Read image files (PNG, JPEG, WebP; grey, RGB or RGBA) into one uint8 tensor of a fixed size."""

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor

#: File suffixes read as images (case-insensitive); other files in a folder are ignored.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
log = logging.getLogger(__name__)
#: How many unreadable files a warning names (the rest are counted).
NAMED_SKIPPED = 5


def is_image(path: Path) -> bool:
    """Whether `path` is a file with an image suffix (not hidden, such as `.DS_Store`)."""
    return (
        path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
    )


def image_files(folder: Path) -> list[Path]:
    """The image files directly in `folder`, sorted by name."""
    return sorted(p for p in folder.iterdir() if is_image(p))


def read_image(path: Path, channels: int, size: tuple[int, int]) -> Tensor:
    """Decode one file with torchvision as (channels, *size) uint8; raises on a bad file.

    Grey images are repeated to RGB, colour images averaged to grey, an alpha channel is
    dropped; the image is resized to `size` (height, width) with antialiasing.
    """
    from torchvision.io import ImageReadMode, decode_image
    from torchvision.transforms.v2.functional import resize

    mode = ImageReadMode.RGB if channels == 3 else ImageReadMode.GRAY
    image = decode_image(str(path), mode=mode)
    if image.shape[-2:] != size:
        image = resize(image, list(size), antialias=True)
    return image


def read_images(
    paths: Sequence[Path], channels: int, size: tuple[int, int], into: Tensor | None = None
) -> tuple[Tensor, list[int], list[Path]]:
    """Decode `paths`; return the stacked images, the indices read and the files skipped.

    The images fill `into` (a `(len(paths), C, H, W)` uint8 tensor, e.g. a memory-mapped
    file) or a new tensor, one image at a time: the images are never held twice. A file
    that cannot be decoded (corrupt, truncated, not really an image) is skipped (tell the
    user with `warn_skipped`).
    """
    images = torch.empty(len(paths), channels, *size, dtype=torch.uint8) if into is None else into
    kept, skipped = [], []
    for index, path in enumerate(paths):
        try:
            images[len(kept)] = read_image(path, channels, size)
        except RuntimeError:  # torchvision's decoders raise RuntimeError on bad data
            skipped.append(path)
            continue
        kept.append(index)
    return images[: len(kept)], kept, skipped


def warn_skipped(skipped: Sequence[Path | str]) -> None:
    """Log a warning that `skipped` files could not be read, naming the first few.

    A logged warning, not a Python one, so `--ignore_warnings` does not hide lost data.
    """
    if not skipped:
        return
    named = ", ".join(str(p) for p in skipped[:NAMED_SKIPPED])
    more = f" and {len(skipped) - NAMED_SKIPPED} more" if len(skipped) > NAMED_SKIPPED else ""
    rank_zero_only(log.warning)(f"{len(skipped)} unreadable image file(s) skipped: {named}{more}")

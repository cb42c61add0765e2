"""New inputs for `predict`: a folder or list of image files, or a `.npy`/`.pt` tensor file."""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from runforge.data.image_files import is_image, read_images, warn_skipped
from runforge.errors import ConfigError

TENSOR_SUFFIXES = (".npy", ".pt")


def _files(paths: Sequence[str]) -> list[Path]:
    """The files named, with the images of every folder named (sorted, sub-folders included)."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if is_image(p))
        elif path.is_file():
            found.append(path)
        else:
            raise ConfigError(f"data.predict_path: {path} is neither a file nor a folder")
    return found


def _tensor_file(path: Path, input_shape: tuple[int, int, int], max_value: float) -> Tensor:
    """Images stored as (N, C, H, W) in the data's scale [0, max_value], resized to `input_shape`.

    Anything else is a ConfigError naming the file: other shapes (a 3-D array could be N grey
    images or one colour image, so it is not guessed), other channels, or values outside the
    data's scale (e.g. floats in [0, 1], or in 0-255 for data stored in [0, 16]).
    """
    data = np.load(path) if path.suffix == ".npy" else torch.load(path, weights_only=True)
    images = torch.as_tensor(data)
    channels = input_shape[0]
    if images.ndim != 4 or images.shape[1] != channels:
        raise ConfigError(
            f"data.predict_path: {path} holds shape {tuple(images.shape)}; expected "
            f"(N, {channels}, H, W): N images of {channels} channel(s) (add the missing axes, "
            f"e.g. array[:, None] for N grey images, array[None] for one image)"
        )
    if images.numel() and not (0 <= images.min() and images.max() <= max_value):
        low, high = images.min().item(), images.max().item()
        raise ConfigError(
            f"data.predict_path: {path} holds values from {low:g} to {high:g}; this data stores "
            f"images in [0, {max_value:g}]: scale them to it"
        )
    if images.shape[-2:] != input_shape[1:]:
        resized = F.interpolate(images.float(), size=input_shape[1:], mode="bilinear")
        images = resized.round().to(images.dtype) if not images.is_floating_point() else resized
    return images


def load_predict_files(
    paths: str | Sequence[str],
    input_shape: tuple[int, int, int],
    max_value: float,
    class_names: Sequence[str],
) -> tuple[Tensor, Tensor, list[str]]:
    """Images in the data module's stored format, labels (-1: unknown) and a source per image.

    Image files are decoded like `ImageFolderDataModule` does (converted to the channels
    and resized to the size of `input_shape`) and scaled from 0-255 to `max_value`. A
    file inside a folder named after a class gets that class as its label. Tensor files
    must hold images as the data module stores them, (N, C, H, W) in [0, max_value]; their
    rows are named `file[i]`.
    """
    files = _files([paths] if isinstance(paths, str) else list(paths))
    tensor_files = [p for p in files if p.suffix.lower() in TENSOR_SUFFIXES]
    image_paths = [p for p in files if p.suffix.lower() not in TENSOR_SUFFIXES]
    parts, labels, sources = [], [], []
    if image_paths:
        images, kept, skipped = read_images(image_paths, input_shape[0], input_shape[1:])
        warn_skipped(skipped)
        if max_value != 255.0:
            images = (images.float() * (max_value / 255.0)).round().to(torch.uint8)
        index = {name: i for i, name in enumerate(class_names)}
        kept_paths = [image_paths[i] for i in kept]
        parts.append(images)
        labels += [index.get(p.parent.name, -1) for p in kept_paths]
        sources += [str(p) for p in kept_paths]
    for path in tensor_files:
        images = _tensor_file(path, input_shape, max_value)
        parts.append(images)
        labels += [-1] * len(images)
        sources += [f"{path}[{i}]" for i in range(len(images))]
    if not sources:
        raise ConfigError(f"data.predict_path: no readable images in {paths}")
    dtype = torch.float32 if any(p.is_floating_point() for p in parts) else torch.uint8
    return torch.cat([p.to(dtype) for p in parts]), torch.tensor(labels), sources

"""The decoded images of a folder, cached in one tensor file keyed by file names, sizes, times."""

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor

from runforge.data.image_files import read_images

#: Bumped when the cache's content changes meaning, so old caches are rebuilt.
CACHE_FORMAT = 1


def cache_key(paths: Sequence[Path], input_shape: tuple[int, ...]) -> str:
    """A hash of the file list with each file's size and modification time, and the shape."""
    entries = []
    for path in paths:
        stat = path.stat()
        entries.append([str(path), stat.st_size, stat.st_mtime_ns])
    text = json.dumps([CACHE_FORMAT, list(input_shape), entries])
    return hashlib.sha256(text.encode()).hexdigest()


def cache_path(cache_dir: Path, root: Path, key: str) -> Path:
    """`<cache_dir>/image_folder/<root name>-<root hash>-<key>.pt`."""
    where = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:8]
    return cache_dir / "image_folder" / f"{root.resolve().name}-{where}-{key[:16]}.pt"


def load_or_build(
    paths: Sequence[Path], input_shape: tuple[int, int, int], cache_dir: Path, root: Path
) -> dict[str, Any]:
    """The decoded images of `paths` from the cache, built first when it is missing or stale.

    Returns `images` (N, C, H, W) uint8 of the readable files, `kept` (their indices in
    `paths`), `skipped` (the unreadable files) and `path` (the cache file). A rebuild
    replaces the stale caches of the same folder.
    """
    path = cache_path(cache_dir, root, cache_key(paths, input_shape))
    if path.is_file():
        cached = torch.load(path, weights_only=True)
        return {**cached, "path": path}
    rank_zero_info(f"Decoding {len(paths)} images under {root} into {path} (once)")
    channels, *size = input_shape
    images, kept, skipped = read_images(paths, channels, tuple(size))
    cached = {"images": images, "kept": torch.tensor(kept, dtype=torch.long)}
    cached["skipped"] = [str(p) for p in skipped]
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(path.name.rsplit("-", 1)[0] + "-*"):
        stale.unlink(missing_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    torch.save(cached, partial)
    os.replace(partial, path)  # a killed build never leaves a half-written cache
    return {**cached, "path": path}


def channel_statistics(images: Tensor, max_value: float) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images scaled to [0, 1], summed in float64."""
    pixels = images.transpose(0, 1).reshape(images.shape[1], -1)
    total = torch.zeros(len(pixels), dtype=torch.float64)
    squares = torch.zeros_like(total)
    for chunk in pixels.split(1 << 22, dim=1):
        values = chunk.double() / max_value
        total += values.sum(dim=1)
        squares += values.square().sum(dim=1)
    count = max(pixels.shape[1], 1)
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(1e-12).sqrt()
    return mean.tolist(), std.tolist()


def cached_statistics(
    cache: Path, split: str, compute: Callable[[], tuple[list[float], list[float]]]
) -> tuple[list[float], list[float]]:
    """Mean and std of a split, read from `<cache>.stats.json` or computed and added there."""
    stats_path = cache.with_name(cache.name + ".stats.json")
    stats = json.loads(stats_path.read_text()) if stats_path.is_file() else {}
    if split not in stats:
        stats[split] = compute()
        stats_path.write_text(json.dumps(stats, indent=1) + "\n")
    mean, std = stats[split]
    return mean, std

"""The decoded images of a folder, cached in one raw uint8 file keyed by file names, sizes, times.

The cache is `<key>.u8` (the images, `(N, C, H, W)` uint8, nothing else) and `<key>.json` (their
shape, the files read and skipped). It is decoded straight into the file and read back as a
memory map, so neither building nor loading it holds a second copy of the images in memory.
"""

import hashlib
import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor

from runforge.data.image_files import read_images

#: Bumped when the cache's content changes meaning, so old caches are rebuilt.
CACHE_FORMAT = 2


def cache_key(paths: Sequence[Path], input_shape: tuple[int, ...]) -> str:
    """A hash of the file list with each file's size and modification time, and the shape."""
    entries = []
    for path in paths:
        stat = path.stat()
        entries.append([str(path), stat.st_size, stat.st_mtime_ns])
    text = json.dumps([CACHE_FORMAT, list(input_shape), entries])
    return hashlib.sha256(text.encode()).hexdigest()


def cache_path(cache_dir: Path, root: Path, key: str) -> Path:
    """`<cache_dir>/image_folder/<root name>-<root hash>-<key>.u8` (the images' file)."""
    where = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:8]
    return cache_dir / "image_folder" / f"{root.resolve().name}-{where}-{key[:16]}.u8"


def load_or_build(
    paths: Sequence[Path], input_shape: tuple[int, int, int], cache_dir: Path, root: Path
) -> dict[str, Any]:
    """The decoded images of `paths` from the cache, built first when it is missing or stale.

    Returns `images` (N, C, H, W) uint8 of the readable files, memory-mapped from the cache
    (the splits gather their own copies from it), `kept` (their indices in `paths`),
    `skipped` (the unreadable files) and `path` (the cache file). A rebuild replaces the
    stale caches of the same folder.
    """
    path = cache_path(cache_dir, root, cache_key(paths, input_shape))
    info = _complete(path)
    if info is None:
        _build(paths, input_shape, root, path)
        info = json.loads(_meta_path(path).read_text())
    shape, size = info["shape"], math.prod(info["shape"])
    images = (
        torch.from_file(str(path), shared=False, size=size, dtype=torch.uint8).view(shape)
        if size
        else torch.empty(shape, dtype=torch.uint8)
    )
    kept = torch.tensor(info["kept"], dtype=torch.long)
    return {"images": images, "kept": kept, "skipped": info["skipped"], "path": path}


def _meta_path(path: Path) -> Path:
    """The cache's description (`<key>.json`) beside its images (`<key>.u8`)."""
    return path.with_suffix(".json")


def _complete(path: Path) -> dict[str, Any] | None:
    """The description of a whole cache at `path`; None when it is missing or cut short."""
    meta = _meta_path(path)
    if not (meta.is_file() and path.is_file()):
        return None
    info = json.loads(meta.read_text())
    return info if path.stat().st_size >= math.prod(info["shape"]) else None


def _build(paths: Sequence[Path], input_shape: tuple[int, int, int], root: Path, path: Path):
    """Decode `paths` straight into the cache file `path`, then remove the folder's stale caches."""
    rank_zero_info(f"Decoding {len(paths)} images under {root} into {path} (once)")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    shape = (len(paths), *input_shape)
    into = torch.from_file(str(partial), shared=True, size=math.prod(shape), dtype=torch.uint8)
    images, kept, skipped = read_images(paths, input_shape[0], input_shape[1:], into.view(shape))
    del into, images  # unmapped: written to the file
    info = {"shape": [len(kept), *input_shape], "kept": kept, "skipped": [str(p) for p in skipped]}
    meta = _meta_path(partial)
    meta.write_text(json.dumps(info))
    os.replace(partial, path)  # a killed build never leaves a half-written cache: the
    os.replace(meta, _meta_path(path))  # description comes last and marks it complete
    # The folder's caches of other keys are stale; the files of this key (another process's
    # build of the same files, as DDP's ranks do at once) are left alone.
    for stale in path.parent.glob(path.name.rsplit("-", 1)[0] + "-*"):
        if not stale.name.startswith(path.stem):
            stale.unlink(missing_ok=True)


def channel_statistics(images: Tensor, max_value: float) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images scaled to [0, 1], exact.

    Counted as a histogram of the 256 values per channel, a chunk of images at a time: no
    float copy of the images is made.
    """
    channels = images.shape[1]
    counts = torch.zeros(channels, 256, dtype=torch.float64)
    per_chunk = max(1, (1 << 22) // max(images[0].numel(), 1))  # about 4 MB at a time
    for chunk in images.split(per_chunk):
        for channel in range(channels):
            counts[channel] += torch.bincount(chunk[:, channel].flatten(), minlength=256)
    values = torch.arange(256, dtype=torch.float64) / max_value
    count = counts.sum(dim=1).clamp_min(1)
    mean = (counts * values).sum(dim=1) / count
    variance = (counts * values.square()).sum(dim=1) / count - mean.square()
    return mean.tolist(), variance.clamp_min(1e-12).sqrt().tolist()


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

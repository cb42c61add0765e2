"""Building the image-folder cache (decode every file) vs loading it, for 2,000 image files.

.venv/bin/python benchmarks/image_folder_cache.py [--images 2000] [--size 64]

Writes 2,000 PNG/JPEG/WebP files (grey, RGB, RGBA) of about 256x192 pixels into a
temporary folder, then times
`ImageFolderDataModule.setup` twice: the first decodes and caches, the second loads the cache.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers import write_shapes_folder
from runforge.data import ImageFolderDataModule


def timed_setup(root: Path, cache: Path, size: int) -> float:
    """Seconds of one `setup` of a fresh data module on `root`."""
    dm = ImageFolderDataModule(str(root), image_size=size, cache_dir=str(cache))
    start = time.perf_counter()
    dm.setup("fit")
    return time.perf_counter() - start


def main() -> None:
    """Print the cache build and load times and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = write_shapes_folder(Path(scratch, "images"), -(-args.images // 3), (192, 256))
        files = sorted(p for p in root.rglob("*") if p.is_file())
        for extra in files[args.images :]:
            extra.unlink()
        count = min(len(files), args.images)
        build = timed_setup(root, Path(scratch, "cache"), args.size)
        load = min(timed_setup(root, Path(scratch, "cache"), args.size) for _ in range(3))
        cached = next(Path(scratch, "cache").rglob("*.u8")).stat().st_size
    print(f"{count} files, stored as {args.size}x{args.size} RGB ({cached / 1e6:.1f} MB cache)")
    print(f"build (decode + resize + save): {build:.2f} s")
    print(f"load (unchanged folder):        {load * 1e3:.0f} ms")
    print(f"ratio: {build / load:.0f}x")


if __name__ == "__main__":
    main()

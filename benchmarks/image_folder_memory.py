"""Peak anonymous memory of the image-folder data module, against the decoded images' size.

.venv/bin/python benchmarks/image_folder_memory.py [--images 12000] [--size 64]

Writes a folder of 64x64 RGB JPEGs (10 classes), then, in a fresh process each, runs
`ImageFolderDataModule.setup("fit")` twice: once building the cache (decoding every file),
once with the cache built. A thread samples the process's `RssAnon` (anonymous memory:
Python objects and tensors, not the page cache of mapped files) every 2 ms; each figure is the
peak above the process's memory just before `setup`, divided by the decoded size
(N x 3 x 64 x 64 bytes). One copy of the data is 1.0.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

#: The child process: set up the data module while sampling RssAnon; print the peak rise.
CHILD = """
import json, sys, threading, time
from runforge.data import ImageFolderDataModule

def rss_anon():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024

dm = ImageFolderDataModule(sys.argv[1], image_size=int(sys.argv[3]), cache_dir=sys.argv[2])
before, peak, done = rss_anon(), [0], threading.Event()

def sample():
    while not done.is_set():
        peak[0] = max(peak[0], rss_anon())
        time.sleep(0.002)

thread = threading.Thread(target=sample)
thread.start()
dm.setup("fit")
peak[0] = max(peak[0], rss_anon())
done.set()
thread.join()
print(json.dumps({"rise": peak[0] - before, "n": sum(len(d) for d in dm.datasets.values())}))
"""


def write_jpegs(root: Path, count: int, size: int) -> None:
    """`count` random-textured JPEGs of `size`x`size`, in 10 class folders."""
    rng = np.random.default_rng(0)
    for i in range(count):
        folder = root / f"class{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (size // 4, size // 4, 3), dtype=np.uint8)
        image = Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR)
        image.save(folder / f"{i}.jpg", quality=90)


def peak_rise(root: Path, cache: Path, size: int) -> dict:
    """Run one `setup` in a fresh process; its peak RssAnon rise and image count."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(cache), str(size)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Print each setup's peak anonymous memory as a multiple of the decoded size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12000)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    decoded = args.images * 3 * args.size * args.size
    with tempfile.TemporaryDirectory() as scratch:
        root, cache = Path(scratch, "images"), Path(scratch, "cache")
        write_jpegs(root, args.images, args.size)
        print(f"{args.images} JPEGs of {args.size}x{args.size}: {decoded / 2**20:.0f} MiB decoded")
        for what in ("building the cache", "cache built"):
            result = peak_rise(root, cache, args.size)
            assert result["n"] == args.images
            rise = result["rise"]
            print(f"{what:>20}: peak RssAnon +{rise / 2**20:.0f} MiB = {rise / decoded:.2f}x")


if __name__ == "__main__":
    main()

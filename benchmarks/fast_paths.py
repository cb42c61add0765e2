"""Training time per epoch of the fast MNIST recipe with each fast path on and off.

.venv/bin/python benchmarks/fast_paths.py                  # synthetic MNIST-sized data
.venv/bin/python benchmarks/fast_paths.py --data_dir data  # the real MNIST files
.venv/bin/python benchmarks/fast_paths.py --batches 20     # time 20 batches, extrapolate

Runs `configs/experiment/mnist_fast.yaml` on the default accelerator (a GPU if there is one)
for one epoch per variant and prints the seconds per training epoch (the median time from
one batch's end to the next's, times the batches in an epoch: start-up, the first batch and
validation excluded) and the ratio to the plain DataLoader + float32 variant.
"""

import argparse
import math
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

VARIANTS = {
    "DataLoader, 32-true": ["--data.device_resident", "false", "--trainer.precision", "32-true",
                            "--model.init_args.channels_last", "false"],
    "device_resident, 32-true": ["--trainer.precision", "32-true",
                                 "--model.init_args.channels_last", "false"],
    "device_resident, bf16-mixed": ["--model.init_args.channels_last", "false"],
    "device_resident, bf16-mixed, channels_last (the recipe)": [],
}  # fmt: skip


def write_synthetic_mnist(root: Path, n_train: int = 60_000, n_test: int = 10_000) -> None:
    """MNIST-format idx files of the right size: scikit-learn digits upscaled and shifted."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, count in (("train", n_train), ("t10k", n_test)):
        pick = rng.integers(0, len(digits.target), count)
        images = np.kron(digits.images[pick], np.ones((3, 3))) * (255 / 16)
        canvas = np.zeros((count, 28, 28))
        dy, dx = rng.integers(0, 5, 2)
        canvas[:, dy : dy + 24, dx : dx + 24] = images
        for name, array in (("images-idx3", canvas), ("labels-idx1", digits.target[pick])):
            header = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(
                f">{array.ndim}I", *array.shape
            )
            (raw / f"{prefix}-{name}-ubyte").write_bytes(header + array.astype(np.uint8).tobytes())


def train_seconds(data_dir: Path, logs: Path, extra: list[str], batches: int | None) -> float:
    """Seconds of one training epoch of the recipe (median batch time x batches per epoch)."""
    import torch
    from lightning.pytorch.callbacks import Callback

    from runforge.cli.cli import CLI

    ends: list[float] = []

    class BatchEnds(Callback):
        def on_train_batch_end(self, trainer, *args) -> None:
            if trainer.strategy.root_device.type == "cuda":
                torch.cuda.synchronize()
            ends.append(time.perf_counter())

    args = ["-c", str(ROOT / "configs/experiment/mnist_fast.yaml"), *extra]
    args += ["--data.data_dir", str(data_dir), "--data.download", "false", "--run.root", str(logs)]
    args += ["--trainer.max_epochs", "1", "--trainer.limit_val_batches", "1"]
    args += ["--test_after_fit", "false"]
    if batches:
        args += ["--trainer.limit_train_batches", str(batches)]
    with mock.patch.object(sys, "argv", ["src/main.py"]):
        cli = CLI(args=args, run=False)
    cli.trainer.callbacks.append(BatchEnds())
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    full = math.ceil(len(cli.datamodule.datasets["train"]) / cli.datamodule.batch_size)
    return statistics.median(b - a for a, b in zip(ends, ends[1:], strict=False)) * full


def main() -> None:
    """Print the seconds per training epoch of each variant and the ratio to the first."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data_dir", type=Path, help="a folder with MNIST/raw/ (default: synthetic)"
    )
    parser.add_argument("--batches", type=int, help="time this many batches and extrapolate")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir
        if data_dir is None:
            data_dir = Path(tmp, "data")
            write_synthetic_mnist(data_dir)
        results = {}
        for name, extra in VARIANTS.items():
            results[name] = train_seconds(data_dir, Path(tmp, "logs"), extra, args.batches)
    base = next(iter(results.values()))
    print(f"{'variant':<58} {'s/epoch':>8} {'ratio':>6}")
    for name, seconds in results.items():
        print(f"{name:<58} {seconds:8.2f} {seconds / base:6.2f}")


if __name__ == "__main__":
    main()

"""Batch gathering vs per-sample loading on the digits data, as a ratio in one run.

.venv/bin/python benchmarks/data_loading.py
"""

import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from data_modules import DigitsDataModule


def epoch_seconds(loader: DataLoader, epochs: int = 20) -> float:
    """Best time of one pass over `loader`."""
    best = float("inf")
    for _ in range(epochs):
        start = time.perf_counter()
        for _batch in loader:
            pass
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    """Print seconds per epoch for both loaders and their ratio."""
    dm = DigitsDataModule(batch_size=64)
    dm.setup("fit")
    batched = dm.train_dataloader()
    train = dm.datasets["train"]
    per_sample = DataLoader(TensorDataset(train.images, train.labels), batch_size=64, shuffle=True)
    torch.manual_seed(0)
    fast, slow = epoch_seconds(batched), epoch_seconds(per_sample)
    print(f"per-sample TensorDataset: {slow * 1e3:.2f} ms/epoch")
    print(f"TensorBatchDataset:       {fast * 1e3:.2f} ms/epoch")
    print(f"speed-up: {slow / fast:.1f}x")


if __name__ == "__main__":
    main()

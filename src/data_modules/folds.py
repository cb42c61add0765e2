"""Stratified k-fold splits of a training part (the test part never takes part)."""

import numpy as np
import torch
from torch import Tensor


def check_folds(num_folds: int | None, fold: int) -> None:
    """Raise ValueError unless `num_folds` is None or >= 2 and `0 <= fold < num_folds`."""
    if num_folds is None:
        return
    if num_folds < 2:
        raise ValueError(f"num_folds must be >= 2 (null: one train/val split), got {num_folds}")
    if not 0 <= fold < num_folds:
        raise ValueError(f"fold must be in 0..{num_folds - 1} (num_folds={num_folds}), got {fold}")


def fold_split(labels: Tensor, num_folds: int, fold: int, seed: int) -> tuple[Tensor, Tensor]:
    """(train, val) indices of `fold`: each fold holds about 1/num_folds of every class.

    The folds are disjoint, cover every index once, and depend only on the labels and `seed`
    (scikit-learn's `StratifiedKFold` with shuffling).
    """
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=num_folds, shuffle=True, random_state=seed)
    splits = splitter.split(np.zeros(len(labels)), labels.numpy())
    train, val = next(s for i, s in enumerate(splits) if i == fold)
    return torch.as_tensor(train), torch.as_tensor(val)


def fold_parts(
    parts: dict[str, tuple[Tensor, Tensor]], num_folds: int, fold: int, seed: int
) -> dict[str, tuple[Tensor, Tensor]]:
    """The `train` and `val` parts of `fold`, cut from the training images (and a given val part).

    The `test` part is left out and never enters a fold.
    """
    pieces = [parts[split] for split in ("train", "val") if split in parts]
    images = torch.cat([images for images, _ in pieces])
    labels = torch.cat([labels for _, labels in pieces])
    train, val = fold_split(labels, num_folds, fold, seed)
    return {"train": (images[train], labels[train]), "val": (images[val], labels[val])}

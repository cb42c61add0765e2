"""Stratified k-fold splits of a training part (the test part never takes part)."""

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from runforge.errors import ConfigError


class TooManyFolds(ConfigError):
    """A class of the training part has fewer images than there are folds."""

    def __init__(self, num_folds: int, count: int, name: str, key: str = "data.num_folds") -> None:
        self.num_folds, self.count, self.name = num_folds, count, name
        super().__init__(
            f"{key}={num_folds}: class {name!r} has only {count} image(s) in the training part, "
            f"fewer than the folds; give {key} {count} or fewer (each fold holds every class)"
        )

    def named(self, key: str) -> "TooManyFolds":
        """The same error naming the option `key` (e.g. kfold.py's `--num_folds`)."""
        return TooManyFolds(self.num_folds, self.count, self.name, key)


def check_folds(num_folds: int | None, fold: int) -> None:
    """Raise ValueError unless `num_folds` is None or >= 2 and `0 <= fold < num_folds`."""
    if num_folds is None:
        return
    if num_folds < 2:
        raise ValueError(f"num_folds must be >= 2 (null: one train/val split), got {num_folds}")
    if not 0 <= fold < num_folds:
        raise ValueError(f"fold must be in 0..{num_folds - 1} (num_folds={num_folds}), got {fold}")


def check_fold_sizes(
    labels: Tensor, num_folds: int, class_names: Sequence[str] | None = None
) -> None:
    """TooManyFolds when the smallest class among `labels` has fewer images than `num_folds`."""
    classes, counts = labels.unique(return_counts=True)
    if not len(counts):
        return
    smallest = int(counts.argmin())
    if counts[smallest] < num_folds:
        label = int(classes[smallest])
        name = class_names[label] if class_names and label < len(class_names) else str(label)
        raise TooManyFolds(num_folds, int(counts[smallest]), name)


def fold_split(
    labels: Tensor,
    num_folds: int,
    fold: int,
    seed: int,
    class_names: Sequence[str] | None = None,
) -> tuple[Tensor, Tensor]:
    """(train, val) indices of `fold`: each fold holds about 1/num_folds of every class.

    The folds are disjoint, cover every index once, and depend only on the labels and `seed`
    (scikit-learn's `StratifiedKFold` with shuffling). A class with fewer images than folds
    is a `TooManyFolds` error (`class_names` name it).
    """
    from sklearn.model_selection import StratifiedKFold

    check_fold_sizes(labels, num_folds, class_names)
    splitter = StratifiedKFold(n_splits=num_folds, shuffle=True, random_state=seed)
    splits = splitter.split(np.zeros(len(labels)), labels.numpy())
    train, val = next(s for i, s in enumerate(splits) if i == fold)
    return torch.as_tensor(train), torch.as_tensor(val)


def fold_parts(
    parts: dict[str, tuple[Tensor, Tensor]],
    num_folds: int,
    fold: int,
    seed: int,
    class_names: Sequence[str] | None = None,
) -> dict[str, tuple[Tensor, Tensor]]:
    """The `train` and `val` parts of `fold`, cut from the training images (and a given val part).

    The `test` part is left out and never enters a fold.
    """
    pieces = [parts[split] for split in ("train", "val") if split in parts]
    images = torch.cat([images for images, _ in pieces])
    labels = torch.cat([labels for _, labels in pieces])
    train, val = fold_split(labels, num_folds, fold, seed, class_names)
    return {"train": (images[train], labels[train]), "val": (images[val], labels[val])}

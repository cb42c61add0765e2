"""The pictures of a test report: a normalised confusion matrix and a grid of mistakes."""

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from runforge.callbacks.figures import new_figure


def displayable(images: Tensor, mean: Sequence[float] | None, std: Sequence[float] | None):
    """Preprocessed images (N, C, H, W) as (N, H, W, C) floats in [0, 1] for `imshow`.

    The data module's normalisation is undone when its `mean`/`std` are known; otherwise
    each image is stretched to [0, 1].
    """
    images = images.detach().float().cpu()
    if mean is not None and std is not None and len(mean) == images.shape[1]:
        shape = (1, -1, 1, 1)
        images = images * torch.tensor(std).view(shape) + torch.tensor(mean).view(shape)
    else:
        low = images.amin(dim=(1, 2, 3), keepdim=True)
        high = images.amax(dim=(1, 2, 3), keepdim=True)
        images = (images - low) / (high - low).clamp_min(1e-8)
    return images.clamp(0, 1).permute(0, 2, 3, 1).numpy()


def _show(axes, image: np.ndarray) -> None:
    if image.shape[-1] == 1:
        axes.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        axes.imshow(image, interpolation="nearest")
    axes.set_xticks([])
    axes.set_yticks([])


def confusion_figure(confusion: np.ndarray, names: Sequence[str]):
    """Rows: the true class, normalised to sum to 1; columns: the predicted class."""
    n = len(names)
    normalised = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    side = min(max(4.5, 0.55 * n + 2.5), 20)
    figure = new_figure(side + 1, side)
    axes = figure.add_subplot()
    shown = axes.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(shown, ax=axes, fraction=0.046, label="fraction of the true class")
    crowded = sum(map(len, names)) > 5 * n or n > 12  # long names: slanted
    axes.set_xticks(
        range(n), names, rotation=45 if crowded else 0, ha="right" if crowded else "center"
    )
    axes.set_yticks(range(n), names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    total, correct = confusion.sum(), np.trace(confusion)
    axes.set_title(f"Confusion matrix: {correct}/{total} correct ({correct / max(total, 1):.1%})")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                value = normalised[i, j]
                if confusion[i, j]:
                    colour = "white" if value > 0.5 else "black"
                    axes.text(j, i, f"{value:.2f}", ha="center", va="center", color=colour,
                              fontsize=8 if n > 10 else 10)  # fmt: skip
    return figure


def mistakes_figure(images: np.ndarray, true: Sequence[str], pred: Sequence[str], prob):
    """A grid of images titled with their true class and the wrong prediction's probability."""
    count = len(images)
    if not count:
        figure = new_figure(5, 1.5)
        figure.text(0.5, 0.5, "No mistakes on the test set", ha="center", va="center", size=14)
        return figure
    columns = min(count, 8)
    rows = math.ceil(count / columns)
    figure = new_figure(1.6 * columns + 0.4, 1.9 * rows + 0.6)
    figure.suptitle(f"Most confident mistakes ({count}), highest wrong probability first")
    for index in range(count):
        axes = figure.add_subplot(rows, columns, index + 1)
        _show(axes, images[index])
        axes.set_title(f"true: {true[index]}\npred: {pred[index]} ({prob[index]:.2f})", fontsize=8)
    return figure


def image_grid_figure(rows: dict[str, np.ndarray], title: str):
    """Images in labelled rows (e.g. `input` and `output`), one column per sample."""
    columns = max(len(images) for images in rows.values())
    figure = new_figure(1.2 * columns + 1.2, 1.3 * len(rows) + 0.5)
    figure.suptitle(title)
    for r, (label, images) in enumerate(rows.items()):
        for c, image in enumerate(images):
            axes = figure.add_subplot(len(rows), columns, r * columns + c + 1)
            _show(axes, image)
            if c == 0:
                axes.set_ylabel(label)
    return figure

"""Save a matplotlib figure into the run directory and send it to every logger that takes images."""

from pathlib import Path

import numpy as np
from lightning.pytorch import Trainer
from lightning.pytorch.loggers import MLFlowLogger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_info


def new_figure(width: float, height: float):
    """A matplotlib `Figure` with constrained layout, made without pyplot (no GUI backend)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def figure_pixels(figure) -> np.ndarray:
    """The figure rendered as an (H, W, 3) uint8 array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def publish_figure(
    trainer: Trainer, figure, path: Path, step: int | None = None, announce: bool = True
) -> None:
    """Write `figure` to `path` (PNG) and log it to the trainer's loggers under the file's stem.

    `step` defaults to the global step; `announce` prints where the file is.

    TensorBoard gets the image (`add_image`), loggers with `log_image` (W&B) the file, MLflow
    the file as an artifact; other loggers (CSV) take no images and keep the file only.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    key, step = path.stem, trainer.global_step if step is None else step
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            image = figure_pixels(figure)
            logger.experiment.add_image(key, image, step, dataformats="HWC")
        elif isinstance(logger, MLFlowLogger):
            logger.experiment.log_artifact(logger.run_id, str(path))
        elif callable(getattr(logger, "log_image", None)):
            logger.log_image(key=key, images=[str(path)])
    if announce:
        rank_zero_info(f"{key}: {path}")

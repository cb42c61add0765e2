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


def render(figure, dpi: float = 100) -> np.ndarray:
    """The figure drawn once at `dpi`, as an (H, W, 4) uint8 RGBA array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure.set_dpi(dpi)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def publish_figure(
    trainer: Trainer, figure, path: Path, step: int | None = None, announce: bool = True
) -> None:
    """Write `figure` to `path` (PNG) and log it to the trainer's loggers under the file's stem.

    `step` defaults to the global step; `announce` prints where the file is.

    TensorBoard gets the image (`add_image`), loggers with `log_image` (W&B) the file, MLflow
    the file as an artifact; other loggers (CSV) take no images and keep the file only.
    """
    from matplotlib.image import imsave

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = render(figure)  # drawn once, for the file and the loggers (drawing is the cost)
    imsave(path, pixels, format="png")
    key, step = path.stem, trainer.global_step if step is None else step
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(key, pixels[..., :3], step, dataformats="HWC")
        elif isinstance(logger, MLFlowLogger):
            logger.experiment.log_artifact(logger.run_id, str(path))
        elif callable(getattr(logger, "log_image", None)):
            logger.log_image(key=key, images=[str(path)])
    if announce:
        rank_zero_info(f"{key}: {path}")

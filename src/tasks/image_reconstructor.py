"""Image reconstruction (an autoencoder): pixel loss, PSNR and SSIM, pictures of the output."""

from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor, nn
from torchmetrics import MaxMetric, MeanMetric
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from runforge.callbacks.figures import publish_figure
from runforge.callbacks.report_figures import displayable, image_grid_figure
from runforge.tasks import StageMetrics, Task

LOSSES = {"mse": F.mse_loss, "l1": F.l1_loss}


class ImageReconstructor(Task):
    """Trains `net` to reproduce its input images, compared in [0, 1] pixel values.

    The network gets the preprocessed (normalised) images and returns images in [0, 1]
    (e.g. `models.ConvAutoencoder`); the target is the input with the data module's
    normalisation (`mean`, `std`) undone. Logs `<stage>/loss`, `<stage>/psnr` and
    `<stage>/ssim` for train, val and test (`val/psnr/<name>` for extra evaluation sets)
    and `val/psnr_best`; writes `reconstructions.png` (inputs above, outputs below) into
    the run directory and to the loggers after every validation epoch. `predict` returns
    each image's reconstruction and its PSNR.

    Args:
        net: The network; maps images to images of the same shape in [0, 1].
        loss: The pixel loss, `mse` or `l1`.
        images_shown: How many validation images `reconstructions.png` shows.
        **kwargs: The optimizer and scheduler arguments of `OptimizedTask`.
    """

    def __init__(
        self,
        net: nn.Module,
        loss: Literal["mse", "l1"] = "mse",
        images_shown: int = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.save_hyperparameters(logger=False)
        self.net = net
        self.loss_fn = LOSSES[loss]
        #: The metrics of each stage and loader, built in `setup()`.
        self.metrics: StageMetrics | None = None
        self.val_psnr_best = MaxMetric()
        self.val_psnr_best.persistent(True)  # resume keeps the best value seen so far
        self._shown: tuple[Tensor, Tensor] | None = None

    def setup(self, stage: str) -> None:
        """Build the metrics of each stage and loader (extra loaders named by the data)."""
        names = getattr(self.trainer.datamodule, "eval_set_names", ())
        metrics = {
            "loss": MeanMetric(),
            "psnr": PeakSignalNoiseRatio(data_range=1.0),
            "ssim": StructuralSimilarityIndexMeasure(data_range=1.0),
        }
        self.metrics = StageMetrics(metrics, names)

    def forward(self, images: Tensor) -> Tensor:
        """The reconstructions, in [0, 1]."""
        return self.net(images)

    def target(self, images: Tensor) -> Tensor:
        """The preprocessed images back in [0, 1] (the data module's normalisation undone)."""
        datamodule = self.trainer.datamodule if self._trainer is not None else None
        mean, std = getattr(datamodule, "mean", None), getattr(datamodule, "std", None)
        if mean is None or std is None:
            return images
        shape = (1, -1, 1, 1)
        mean = torch.as_tensor(mean, device=images.device, dtype=images.dtype).view(shape)
        std = torch.as_tensor(std, device=images.device, dtype=images.dtype).view(shape)
        return images * std + mean

    def shared_step(
        self, batch: tuple[Tensor, Tensor], stage: str, dataloader_idx: int = 0
    ) -> Tensor:
        """The reconstruction loss of the images; the stage's metrics updated and logged."""
        images = batch[0]
        target, output = self.target(images), self(images)
        loss = self.loss_fn(output, target)
        self.metrics.get(stage, dataloader_idx).update(
            preds=output, target=target, value=loss, weight=len(images)
        )
        shown = ("loss", "psnr") if dataloader_idx == 0 else ()
        self.metrics.log(self, stage, dataloader_idx, prog_bar=shown)
        if stage == "train":
            self.log("train/loss_step", loss, on_step=True, on_epoch=False)
        elif stage == "val" and dataloader_idx == 0 and self._shown is None:
            shown = self.hparams.images_shown
            self._shown = (target[:shown].detach(), output[:shown].detach())
        return loss

    def on_validation_epoch_end(self) -> None:
        """Log the best validation PSNR so far and draw `reconstructions.png`."""
        shown, self._shown = self._shown, None
        if self.trainer.sanity_checking:
            return
        self.val_psnr_best(self.metrics.get("val")["psnr"].compute())
        self.log("val/psnr_best", self.val_psnr_best.compute(), prog_bar=True)
        if shown is not None and not self.trainer.fast_dev_run:
            self._draw(*shown)

    @rank_zero_only
    def _draw(self, target: Tensor, output: Tensor) -> None:
        unit = (0.0,) * target.shape[1], (1.0,) * target.shape[1]
        rows = {"input": displayable(target, *unit), "output": displayable(output, *unit)}
        title = f"Reconstructions, epoch {self.current_epoch}"
        path = Path(self.trainer.default_root_dir, "reconstructions.png")
        figure = image_grid_figure(rows, title)
        publish_figure(self.trainer, figure, path, step=self.current_epoch, announce=False)

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        """Each image's reconstruction (in [0, 1]) and its PSNR in dB."""
        images = batch[0]
        target, output = self.target(images), self(images)
        mse = (output - target).square().flatten(1).mean(dim=1)
        psnr = 10 * torch.log10(1.0 / mse.clamp_min(1e-10))
        return {"psnr": psnr, "reconstruction": output}

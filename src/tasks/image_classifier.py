"""Image classification: cross-entropy, accuracy per stage, class predictions."""

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MaxMetric, MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from tasks.base import OptimizedTask

STAGES = ("train", "val", "test")
#: `torch.compile` modes: `reduce-overhead` replays CUDA graphs (small nets on a GPU),
#: `max-autotune` searches for faster kernels (long compile).
CompileMode = Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]


class ImageClassifier(OptimizedTask):
    """Trains `net` to classify images with cross-entropy.

    Logs `train/loss`, `train/acc`, `val/loss`, `val/acc`, `val/acc_best`, `test/loss` and
    `test/acc`. Further validation/test loaders (a data module's `eval_sets`) are logged as
    `val/acc/<name>`, `test/loss/<name>`, ..., with names from the data module's
    `eval_set_names` (else the loader's index); the first loader keeps the plain keys, so
    the monitored `val/acc` stays the same. `predict` returns the predicted class and its
    probability per image.

    Args:
        net: The network; maps images to class logits.
        num_classes: Number of classes (linked from the data module by the CLI).
        compile: Compile the network with `torch.compile` (on its first batch; each new
            batch shape and train/eval switch compiles once more). Its parameter names stay
            as without compiling, so checkpoints load either way.
        compile_mode: The `torch.compile` mode.
        channels_last: Keep the network's weights and the images in channels-last memory
            layout, which convolutions on recent GPUs (tensor cores, AMP) run faster.
        **kwargs: The optimizer and scheduler arguments of `OptimizedTask` (`optimizer`,
            `lr_scheduler`, `lr_scheduler_interval`, `lr_scheduler_monitor`,
            `no_weight_decay`).
    """

    def __init__(
        self,
        net: nn.Module,
        num_classes: int = 10,
        compile: bool = False,
        compile_mode: CompileMode = "default",
        channels_last: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.save_hyperparameters(logger=False)
        self.net = net
        self.channels_last = channels_last
        if channels_last:
            net.to(memory_format=torch.channels_last)
        if compile:
            net.compile(mode=compile_mode)  # in place: no `_orig_mod.` in parameter names
        # ModuleDict keys may not shadow nn.Module attributes such as `train`.
        # Plain accuracy: the fraction of images classified correctly (micro average).
        self.accuracy = nn.ModuleDict(
            {f"{s}_": MulticlassAccuracy(num_classes, average="micro") for s in STAGES}
        )
        self.mean_loss = nn.ModuleDict({f"{s}_": MeanMetric() for s in STAGES})
        self.val_acc_best = MaxMetric()
        self.val_acc_best.persistent(True)  # resume keeps the best value seen so far

    def forward(self, images: Tensor) -> Tensor:
        """Return class logits."""
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.net(images)

    def _eval_set_name(self, dataloader_idx: int) -> str:
        names = getattr(self.trainer.datamodule, "eval_set_names", ())
        return names[dataloader_idx - 1] if dataloader_idx <= len(names) else str(dataloader_idx)

    def _metrics_key(self, stage: str, dataloader_idx: int) -> str:
        """The key of one stage's loader in `mean_loss`/`accuracy`, made on first use."""
        key = f"{stage}_" if dataloader_idx == 0 else f"{stage}_{dataloader_idx}"
        if key not in self.accuracy:
            accuracy = MulticlassAccuracy(self.hparams.num_classes, average="micro")
            self.accuracy[key] = accuracy.to(self.device)
            self.mean_loss[key] = MeanMetric().to(self.device)
        return key

    def _shared_step(self, batch: tuple[Tensor, Tensor], stage: str, dataloader_idx: int = 0):
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels)
        key = self._metrics_key(stage, dataloader_idx)
        self.mean_loss[key](loss)
        self.accuracy[key](logits, labels)
        suffix = f"/{self._eval_set_name(dataloader_idx)}" if dataloader_idx else ""
        for name, attribute in (("loss", "mean_loss"), ("acc", "accuracy")):
            self.log(
                f"{stage}/{name}{suffix}", getattr(self, attribute)[key],
                on_step=False, on_epoch=True, prog_bar=not suffix,
                add_dataloader_idx=False, metric_attribute=f"{attribute}.{key}",
            )  # fmt: skip
        if stage == "train":
            self.log("train/loss_step", loss, on_step=True, on_epoch=False)
        return loss

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        """One optimisation step; returns the loss for Lightning to back-propagate."""
        return self._shared_step(batch, "train")

    def validation_step(
        self, batch: tuple[Tensor, Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Accumulate validation loss and accuracy of the batch's loader."""
        self._shared_step(batch, "val", dataloader_idx)

    def test_step(
        self, batch: tuple[Tensor, Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Accumulate test loss and accuracy of the batch's loader."""
        self._shared_step(batch, "test", dataloader_idx)

    def on_validation_epoch_end(self) -> None:
        """Track and log the best validation accuracy so far."""
        if self.trainer.sanity_checking:
            return
        self.val_acc_best(self.accuracy["val_"].compute())
        self.log("val/acc_best", self.val_acc_best.compute(), prog_bar=True)

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        """Return the predicted class and its probability for each image."""
        images = batch[0]
        probs = self(images).softmax(dim=-1)
        prob, pred = probs.max(dim=-1)
        return {"pred": pred, "prob": prob}

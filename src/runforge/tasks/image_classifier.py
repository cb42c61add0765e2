"""Image classification: cross-entropy, metrics per stage and loader, class predictions."""

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MaxMetric, MeanMetric, Metric
from torchmetrics.classification import MulticlassAccuracy

from runforge.errors import ConfigError, names_the_key
from runforge.tasks import MetricCallable, StageMetrics, Task

#: `torch.compile` modes: `reduce-overhead` replays CUDA graphs (small nets on a GPU),
#: `max-autotune` searches for faster kernels (long compile).
CompileMode = Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]


class ImageClassifier(Task):
    """Trains `net` to classify images with cross-entropy.

    Logs `train/loss`, `train/acc`, `val/loss`, `val/acc`, `val/acc_best`, `test/loss` and
    `test/acc`, and `<stage>/<name>` for each of `metrics`. Further validation/test loaders
    (a data module's `eval_sets`) are logged as `val/acc/<name>`, `test/loss/<name>`, ...,
    with names from the data module's `eval_set_names`; the first loader keeps the plain
    keys, so the monitored `val/acc` stays the same. `predict` returns the true label, the
    predicted class and its probability, and the runners-up (`predict_top_k`) per image.

    Args:
        net: The network; maps images to class logits.
        num_classes: Number of classes (linked from the data module by the CLI).
        metrics: More metrics by name, logged as `<stage>/<name>`: a `torchmetrics.Metric`
            class path and its `init_args` without `num_classes`, which the task passes.
            E.g. `f1: torchmetrics.classification.MulticlassF1Score`, or
            `top5: {class_path: torchmetrics.classification.MulticlassAccuracy,
            init_args: {top_k: 5, average: micro}}`, or `metrics.WorstClassAccuracy`.
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

    #: How many classes, best first, `predict` returns per image.
    predict_top_k: int = 3

    def __init__(
        self,
        net: nn.Module,
        num_classes: int = 10,
        metrics: dict[str, MetricCallable] | None = None,
        compile: bool = False,
        compile_mode: CompileMode = "default",
        channels_last: bool = False,
        **kwargs: Any,
    ) -> None:
        if num_classes < 2:
            raise ConfigError(
                f"model.init_args.num_classes={num_classes}: a classifier needs two classes or "
                "more (linked from the data: an image folder needs a sub-folder per class)"
            )
        super().__init__(**kwargs)
        self.save_hyperparameters(logger=False)
        self.net = net
        self.channels_last = channels_last
        if channels_last:
            net.to(memory_format=torch.channels_last)
        if compile:
            net.compile(mode=compile_mode)  # in place: no `_orig_mod.` in parameter names
        self.extra_metrics = dict(metrics or {})
        self.make_metrics()  # a bad metric fails here, before any training
        #: The metrics of each stage and loader, built in `setup()`.
        self.metrics: StageMetrics | None = None
        self.val_acc_best = MaxMetric()
        self.val_acc_best.persistent(True)  # resume keeps the best value seen so far

    def make_metrics(self) -> dict[str, Metric]:
        """The metrics of one loader: mean loss, accuracy (micro average) and `metrics`."""
        n = self.hparams.num_classes
        made: dict[str, Metric] = {
            "loss": MeanMetric(),
            "acc": MulticlassAccuracy(n, average="micro"),
        }
        for name, make in self.extra_metrics.items():
            key = f"model.metrics.{name}"
            if name in made or not name or any(c in name for c in "./"):
                raise ConfigError(f"{key}: name it other than loss or acc, without '.' or '/'")
            with names_the_key(key):
                made[name] = make(n)
        return made

    def setup(self, stage: str) -> None:
        """Build a metric collection per stage and loader (extra loaders from `eval_set_names`).

        Also give the model summary one image as the data module stores it, to count FLOPs.
        """
        names = getattr(self.trainer.datamodule, "eval_set_names", ())
        self.metrics = StageMetrics(self.make_metrics(), names)
        shape = getattr(self.trainer.datamodule, "input_shape", None)
        if shape is not None:
            self.example_input_array = torch.zeros(1, *shape, dtype=torch.uint8)

    def forward(self, images: Tensor) -> Tensor:
        """Return class logits."""
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.net(images)

    def shared_step(
        self, batch: tuple[Tensor, Tensor], stage: str, dataloader_idx: int = 0
    ) -> Tensor:
        """Cross-entropy of the logits; the stage's accuracy and metrics updated and logged."""
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels)
        # Keyword arguments reach the metrics whose `update` takes them: `value` the loss,
        # `weight` the batch size (the epoch's loss is the mean over images, not batches).
        self.metrics.get(stage, dataloader_idx).update(
            preds=logits, target=labels, value=loss, weight=len(labels)
        )
        shown = ("loss", "acc") if dataloader_idx == 0 else ()
        self.metrics.log(self, stage, dataloader_idx, prog_bar=shown)
        if stage == "train" and (self.global_step + 1) % self.trainer.log_every_n_steps == 0:
            self.log("train/loss_step", loss, on_step=True, on_epoch=False)  # when it is written
        return loss

    def on_validation_epoch_end(self) -> None:
        """Track and log the best validation accuracy so far."""
        if self.trainer.sanity_checking:
            return
        self.val_acc_best(self.metrics.get("val")["acc"].compute())
        self.log("val/acc_best", self.val_acc_best.compute(), prog_bar=True)

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        """Per image: true label (-1: unknown), predicted class, probability, runners-up.

        The runners-up are the next `predict_top_k - 1` classes (`top2`, `top2_prob`, ...).
        """
        images, labels = batch
        probs = self(images).softmax(dim=-1)
        top = probs.topk(min(self.predict_top_k, probs.shape[-1]), dim=-1)
        out = {"label": labels, "pred": top.indices[:, 0], "prob": top.values[:, 0]}
        for k in range(1, top.indices.shape[-1]):
            out |= {f"top{k + 1}": top.indices[:, k], f"top{k + 1}_prob": top.values[:, k]}
        return out

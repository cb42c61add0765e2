"""What a classifier gets wrong on the test set: confusion matrix, mistakes, per-class scores."""

import csv
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only
from torch import Tensor

from runforge.callbacks.figures import publish_figure
from runforge.runs.directory import run_dir


def class_scores(confusion: Tensor) -> dict[str, Tensor]:
    """Per-class precision, recall and F1 from a confusion matrix (rows true, columns predicted).

    A class never predicted has precision 0; one absent from the data has recall 0.
    """
    confusion = confusion.double()
    hits = confusion.diagonal()
    precision = hits / confusion.sum(dim=0).clamp_min(1)
    recall = hits / confusion.sum(dim=1).clamp_min(1)
    f1 = 2 * precision * recall / (precision + recall).clamp_min(1e-12)
    return {"precision": precision, "recall": recall, "f1": f1, "support": confusion.sum(dim=1)}


class TestReport(Callback):
    """After `test`, show what a classifier gets wrong, in the run directory and the loggers.

    Writes `confusion_matrix.png` (rows normalised, class names from the data module's
    `class_names`), `misclassified.png` (the test images wrongly classified with the highest
    probability, titled true/predicted) and `test_report.csv` (precision, recall, F1 and
    support per class), and logs `test/precision/<class>`, `test/recall/<class>`,
    `test/f1/<class>` (so they are in `test_metrics.json` and every logger). Only the first
    test loader is reported. A task whose `forward` does not return class logits
    (batch, classes) for labels (batch,) is not a classifier and is skipped (e.g.
    `tasks.ImageReconstructor`), so the callback can stay in every run's callbacks.

    Args:
        mistakes: How many misclassified images the grid shows at most.
    """

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, mistakes: int = 24) -> None:
        self.mistakes = mistakes
        self.confusion = torch.zeros(0, 0, dtype=torch.long)
        self.worst: dict[str, Tensor] = {}
        self.skipped = False

    def on_test_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Start an empty report."""
        self.confusion, self.worst, self.skipped = torch.zeros(0, 0, dtype=torch.long), {}, False

    @torch.no_grad()
    def on_test_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Count the batch into the confusion matrix and keep its most confident mistakes."""
        if dataloader_idx != 0 or self.skipped:
            return
        images, labels = batch[0], batch[1]
        logits = pl_module(images)
        if logits.ndim != 2 or labels.ndim != 1:
            self.skipped = True
            rank_zero_info(f"TestReport: {type(pl_module).__name__} is not a classifier; skipped")
            return
        n = logits.shape[1]
        if not len(self.confusion):
            self.confusion = torch.zeros(n, n, dtype=torch.long)
        prob, pred = logits.softmax(dim=-1).max(dim=-1)
        self.confusion += torch.bincount(labels * n + pred, minlength=n * n).view(n, n).cpu()
        wrong = pred != labels
        found = {"images": images[wrong], "label": labels[wrong], "pred": pred[wrong]}
        found = {k: v.cpu() for k, v in {**found, "prob": prob[wrong]}.items()}
        merged = {k: torch.cat([self.worst[k], v]) if self.worst else v for k, v in found.items()}
        keep = merged["prob"].argsort(descending=True)[: self.mistakes]
        self.worst = {k: v[keep] for k, v in merged.items()}

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Log the per-class scores (summed over processes)."""
        if not len(self.confusion):
            return
        if trainer.world_size > 1:
            gathered = pl_module.all_gather(self.confusion.to(pl_module.device))
            self.confusion = gathered.view(-1, *self.confusion.shape).sum(dim=0).cpu()
        names = self._names(trainer)
        for metric, values in class_scores(self.confusion).items():
            if metric == "support":
                continue
            for name, value in zip(names, values.tolist(), strict=True):
                pl_module.log(f"test/{metric}/{name}", value, sync_dist=False)

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Write the table and the pictures (rank zero)."""
        if len(self.confusion) and not trainer.fast_dev_run:
            self._write(trainer)

    def _names(self, trainer: Trainer) -> list[str]:
        names = getattr(trainer.datamodule, "class_names", None)
        n = len(self.confusion)
        return (
            [str(name) for name in names] if names and len(names) == n else list(map(str, range(n)))
        )

    @rank_zero_only
    def _write(self, trainer: Trainer) -> None:
        from runforge.callbacks.report_figures import confusion_figure, displayable, mistakes_figure

        folder, names = run_dir(trainer), self._names(trainer)
        scores = class_scores(self.confusion)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "test_report.csv", "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["class", "precision", "recall", "f1", "support"])
            for i, name in enumerate(names):
                row = [f"{scores[m][i].item():.4f}" for m in ("precision", "recall", "f1")]
                writer.writerow([name, *row, int(scores["support"][i])])
        figure = confusion_figure(self.confusion.numpy(), names)
        publish_figure(trainer, figure, folder / "confusion_matrix.png")
        datamodule = trainer.datamodule
        worst = self.worst or {
            "images": torch.empty(0, 1, 1, 1),
            "label": [],
            "pred": [],
            "prob": [],
        }
        images = displayable(
            worst["images"], getattr(datamodule, "mean", None), getattr(datamodule, "std", None)
        )
        true = [names[i] for i in worst["label"]]
        pred = [names[i] for i in worst["pred"]]
        figure = mistakes_figure(images, true, pred, worst["prob"])
        publish_figure(trainer, figure, folder / "misclassified.png")
        rank_zero_info(
            f"TestReport: per-class precision, recall and F1 in {folder / 'test_report.csv'}"
        )

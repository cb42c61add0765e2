"""One torchmetrics `MetricCollection` per stage and loader, named as the keys it logs."""

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from lightning.pytorch import LightningModule
from torch import nn
from torchmetrics import Metric, MetricCollection

#: A metric from YAML: a `torchmetrics.Metric` class path whose first argument, `num_classes`,
#: the task passes, e.g. `torchmetrics.classification.MulticlassF1Score` with its `init_args`.
MetricCallable = Callable[[int], Metric]


class StageMetrics(nn.Module):
    """The metrics of each stage (`train`, `val`, `test`) and each of its loaders.

    Each stage gets a clone of `metrics` prefixed `<stage>/` (`val/acc`); `val` and `test` get
    one more clone per extra evaluation set, postfixed `/<name>` (`val/acc/<name>`). Build
    it in a task's `setup()`, when the data module's `eval_set_names` are known; update a
    stage's collection in each step and `log` it (the values are computed once per epoch).

    Args:
        metrics: The metrics by name, e.g. `{"loss": MeanMetric(), "acc": ...}`.
        eval_set_names: Names of the extra validation/test loaders, in loader order.
        stages: The stages to make collections for.
    """

    def __init__(
        self,
        metrics: Mapping[str, Metric],
        eval_set_names: Sequence[str] = (),
        stages: Sequence[str] = ("train", "val", "test"),
    ) -> None:
        super().__init__()
        # Without compute groups: logging a collection would deep-copy shared states each step.
        base = MetricCollection(dict(metrics), compute_groups=False)
        self.eval_set_names = tuple(eval_set_names)
        self.collections = nn.ModuleDict()
        for stage in stages:
            names = ("", *self.eval_set_names) if stage != "train" else ("",)
            for index, name in enumerate(names):
                postfix = f"/{name}" if name else None
                self.collections[_key(stage, index)] = base.clone(f"{stage}/", postfix)
        self._path: str | None = None

    def get(self, stage: str, dataloader_idx: int = 0) -> MetricCollection:
        """The collection of `stage`'s loader `dataloader_idx`."""
        key = _key(stage, dataloader_idx)
        if key not in self.collections:
            raise KeyError(
                f"no {stage} metrics for loader {dataloader_idx}: the data module names "
                f"{len(self.eval_set_names)} extra evaluation set(s) in `eval_set_names`"
            )
        return self.collections[key]

    def log(
        self,
        task: LightningModule,
        stage: str,
        dataloader_idx: int = 0,
        prog_bar: Collection[str] = (),
        **kwargs: Any,
    ) -> None:
        """Log each metric of a collection, computed over the epoch (call it in every step).

        Call it after the step's `update`. A collection is logged at its first update since
        it was last reset, i.e. once per epoch: Lightning computes the logged metrics at the
        epoch's end over all their updates, then resets them. Logging them again at every
        step would cost ~0.5 ms a metric and a step.

        Args:
            task: The LightningModule that holds this module and logs.
            stage: `train`, `val` or `test`.
            dataloader_idx: The loader of the step.
            prog_bar: Names of the metrics to show on the progress bar.
            **kwargs: More arguments of `LightningModule.log`.
        """
        collection = self.get(stage, dataloader_idx)
        if next(iter(collection.values())).update_count > 1:
            return  # logged at this epoch's first update
        if self._path is None:  # where this module sits in the task, for Lightning's bookkeeping
            self._path = next(name for name, module in task.named_modules() if module is self)
        base = f"{self._path}.collections.{_key(stage, dataloader_idx)}"
        for key, name in zip(collection.keys(), collection.keys(keep_base=True), strict=True):
            task.log(
                key, collection[key], on_step=False, on_epoch=True, add_dataloader_idx=False,
                prog_bar=name in prog_bar, metric_attribute=f"{base}.{name}", **kwargs,
            )  # fmt: skip


def _key(stage: str, dataloader_idx: int) -> str:
    # ModuleDict keys may not shadow nn.Module attributes such as `train`.
    return f"{stage}_{dataloader_idx}"

"""Write `predict` outputs as one CSV row per sample into the run directory."""

import csv
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.utilities import rank_zero_info

from runforge.runs.directory import run_dir

#: Output keys holding class indices; with the data's `class_names` a `<key>_name` follows.
CLASS_KEYS = re.compile(r"label|pred|top\d+")


def free_path(path: Path) -> Path:
    """`path`, or `<stem>-2<suffix>`, `-3`, ... : the first name not taken yet."""
    number, free = 1, path
    while free.exists():
        number += 1
        free = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return free


class PredictionWriter(BasePredictionWriter):
    """Save predictions as `<run>/predictions.csv`, never overwriting one (`-2`, `-3`, ...).

    `predict_step` returns a dict of tensors. The first column is the image's `path` when
    the data module names its sources (`predict_sources`, set for `data.predict_path`),
    else its `index`; then one column per output with one value per sample. Class
    indices (`label`, `pred`, `top<k>`) are followed by the class name (`pred_name`, ...)
    from the data module's `class_names`; a `label` of -1 (unknown) is left empty. Outputs
    with more values per sample (e.g. reconstructed images) go into `predictions.pt`
    beside the CSV. With several predict dataloaders a `dataloader` column comes first;
    with several processes each writes `predictions-rank<N>.csv`. Nothing is written in a
    `fast_dev_run`.
    """

    def __init__(self) -> None:
        super().__init__(write_interval="epoch")

    def write_on_epoch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        predictions: Sequence[Any],
        batch_indices: Sequence[Any],
    ) -> None:
        """Concatenate every batch's outputs and write them with their sources."""
        # Batch indices always come per dataloader; predictions only when there are several.
        per_loader = (
            predictions if predictions and isinstance(predictions[0], list) else [predictions]
        )
        several = len(per_loader) > 1
        datamodule = getattr(trainer, "datamodule", None)
        sources = getattr(datamodule, "predict_sources", None)
        names = getattr(datamodule, "class_names", None)
        header: list[str] = []
        rows: list[list] = []
        tensors: dict[str, list[torch.Tensor]] = {}
        for loader_idx, (outputs, batches) in enumerate(
            zip(per_loader, batch_indices, strict=True)
        ):
            if not outputs:
                continue
            index = [i for batch in batches for i in batch]
            table: dict[str, list] = {"dataloader": [loader_idx] * len(index)} if several else {}
            if sources and not several:
                table["path"] = [sources[i] for i in index]
            else:
                table["index"] = index
            for key in outputs[0]:
                column = torch.cat([out[key].detach().cpu() for out in outputs])
                if column.ndim > 1:
                    tensors.setdefault(key, []).append(column)
                    continue
                values = column.tolist()
                known = [v if key != "label" or v >= 0 else "" for v in values]
                table[key] = known
                if names and CLASS_KEYS.fullmatch(key):
                    table[f"{key}_name"] = ["" if v == "" else names[v] for v in known]
            header = list(table)
            rows.extend(list(row) for row in zip(*table.values(), strict=True))
        if rows and not trainer.fast_dev_run:
            self._write(trainer, header, rows, tensors)

    def _write(self, trainer: Trainer, header: list, rows: list, tensors: dict) -> None:
        name = (
            "predictions" if trainer.world_size == 1 else f"predictions-rank{trainer.global_rank}"
        )
        folder = run_dir(trainer)
        folder.mkdir(parents=True, exist_ok=True)
        path = free_path(folder / f"{name}.csv")
        with open(path, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(header)
            writer.writerows(rows)
        written = f"{path} ({len(rows)} rows)"
        if tensors:
            torch.save({k: torch.cat(v) for k, v in tensors.items()}, path.with_suffix(".pt"))
            written += f" and {', '.join(tensors)} in {path.with_suffix('.pt')}"
        rank_zero_info(f"Predictions: {written}")

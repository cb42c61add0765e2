"""Write `predict` outputs as one CSV row per sample into the run directory."""

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter


class PredictionWriter(BasePredictionWriter):
    """Save predictions as `predictions.csv`: an `index` column plus one column per output key.

    `predict_step` must return a dict of tensors with one value per sample (for example
    `{"pred": ..., "prob": ...}`). With several predict dataloaders a `dataloader` column
    comes first; with several processes each writes `predictions-rank<N>.csv`.

    Args:
        run_dir: Folder to write into (the run directory).
    """

    def __init__(self, run_dir: str | Path) -> None:
        super().__init__(write_interval="epoch")
        self.run_dir = Path(run_dir)

    def write_on_epoch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        predictions: Sequence[Any],
        batch_indices: Sequence[Any],
    ) -> None:
        """Concatenate every batch's outputs and write them with their dataset indices."""
        # Batch indices always come per dataloader; predictions only when there are several.
        per_loader = (
            predictions if predictions and isinstance(predictions[0], list) else [predictions]
        )
        several = len(per_loader) > 1
        header: list[str] = []
        rows: list[list] = []
        for loader_idx, (outputs, batches) in enumerate(
            zip(per_loader, batch_indices, strict=True)
        ):
            if not outputs:
                continue
            columns = {
                key: torch.cat([out[key].flatten() for out in outputs]) for key in outputs[0]
            }
            index = [i for batch in batches for i in batch]
            header = ["dataloader"] * several + ["index", *columns]
            values = zip(index, *(column.tolist() for column in columns.values()), strict=True)
            rows.extend([loader_idx] * several + list(row) for row in values)
        if not rows:
            return
        name = (
            "predictions.csv"
            if trainer.world_size == 1
            else f"predictions-rank{trainer.global_rank}.csv"
        )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with open(self.run_dir / name, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(header)
            writer.writerows(rows)

"""`--test_after_fit`: test the best checkpoint of a finished fit with the same trainer."""

import logging
from pathlib import Path

from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only

from runforge.runs.resolve import trained_best

log = logging.getLogger(__name__)


def test_after_fit(
    trainer: Trainer, model: LightningModule, datamodule: LightningDataModule | None = None
) -> Path | None:
    """Run `test` on the best checkpoint (or the final weights, with a warning); return its path.

    The test metrics are written by the run's callbacks (`test_metrics.json` in the run
    directory) and logged to the same loggers as the fit.
    """
    ckpt = trained_best(trainer)
    if ckpt is None:
        rank_zero_only(log.warning)(
            "--test_after_fit: no best checkpoint (no ModelCheckpoint with a `monitor` saved "
            "one); testing the final weights instead"
        )
    trainer.test(model, datamodule=datamodule, ckpt_path=str(ckpt) if ckpt else None)
    used = str(ckpt) if ckpt else "the final weights (no best checkpoint)"
    rank_zero_info(f"--test_after_fit: tested {used}")
    return ckpt

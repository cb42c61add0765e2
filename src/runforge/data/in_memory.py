"""Base class for image datasets that fit in memory as tensors."""

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningDataModule
from torch import Tensor, nn
from torch.utils.data import DataLoader

from runforge.data.device_loader import DeviceBatches
from runforge.data.resumable import ResumableLoader
from runforge.data.tensor_dataset import TensorBatchDataset, keep_batch

STAGES = ("train", "val", "test")


class InMemoryImageDataModule(LightningDataModule):
    """Loads a dataset once as uint8 image tensors and normalises each batch on its device.

    Subclasses set `num_classes`, `input_shape`, the pixel statistics and implement `load`.
    The training part is split into train/val with a seeded generator; the test part is
    never used for training.

    Args:
        batch_size: Images per batch (per device).
        val_fraction: Part of the training images held out for validation, in (0, 1).
        split_seed: Seed of the train/val split (the test part never depends on it).
        num_workers: DataLoader worker processes; 0 loads in the main process, which is
            fastest for tensors already in memory.
        pin_memory: Pin batches in page-locked memory for faster copies to a GPU.
        device_resident: Copy each split to the accelerator once and gather every batch
            there (`runforge.data.device_loader.DeviceBatches`): no workers, no per-batch
            copies; the same batches as the DataLoader path for the same seed. Needs
            `num_workers: 0`, `pin_memory: false` and the data fitting in the accelerator.
        eval_sets: More data modules whose test images are evaluated as extra validation
            and test sets, named by their keys (logged as `val/acc/<name>`, `test/acc/<name>`);
            same classes and channels, resized to this data's image size.
        augment: Transforms applied to the training batches only, on the device, before
            `preprocess`, each image with its own random draw (`BatchAugment`): e.g.
            `torchvision.transforms.v2.RandomResizedCrop`, or any callable taking and
            returning one float image (C, H, W) in [0, 1]. Never applied to validation,
            test or predict batches, nor built into exports.
        num_folds: Cross-validation: cut the non-test images into this many stratified folds
            (seeded by `split_seed`; `val_fraction` and a given val part are then not used
            as such), at most the images of the smallest class; null: no folds.
        fold: The fold held out for validation, in 0..num_folds-1 (see `src/kfold.py`).
        predict_path: What `predict` runs on: a folder of images (sub-folders named after
            a class give the true label), image files, or a `.npy`/`.pt` file of images as
            this data stores them; converted to `input_shape`. null: the test images.
    """

    #: Number of target classes and the shape of one image as (channels, height, width).
    #: Known before any data is loaded, so the CLI can link them into the network.
    num_classes: int
    input_shape: tuple[int, int, int]
    #: Largest raw pixel value (images are scaled to [0, 1] by dividing by it).
    max_value: float = 255.0
    #: Per-channel mean and std of the scaled training images, for normalisation.
    mean: Sequence[float] = (0.5,)
    std: Sequence[float] = (0.5,)

    def __init__(
        self,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        split_seed: int = 42,
        num_workers: int = 0,
        pin_memory: bool = False,
        device_resident: bool = False,
        eval_sets: dict[str, "InMemoryImageDataModule"] | None = None,
        augment: list[nn.Module | Callable[..., Any]] | None = None,
        num_folds: int | None = None,
        fold: int = 0,
        predict_path: str | list[str] | None = None,
    ) -> None:
        super().__init__()
        if num_folds is not None:
            from runforge.data.folds import check_folds  # cross-validation only

            check_folds(num_folds, fold)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
        if num_workers < 0:
            raise ValueError(
                f"num_workers must be >= 0 (0: load in the main process), got {num_workers}"
            )
        if device_resident and (num_workers or pin_memory):
            raise ValueError(
                "device_resident gathers batches on the device: set num_workers 0 and "
                "pin_memory false (or device_resident false)"
            )
        self.eval_sets = dict(eval_sets or {})
        for name, other in self.eval_sets.items():
            if other.num_classes != self.num_classes or other.input_shape[0] != self.input_shape[0]:
                raise ValueError(
                    f"eval_sets.{name}: {type(other).__name__} has {other.num_classes} classes "
                    f"and {other.input_shape[0]} channel(s); this data has {self.num_classes} "
                    f"and {self.input_shape[0]}"
                )
        # predict_path is no hyperparameter: a later `predict` must not change the logged ones.
        self.save_hyperparameters(ignore=["eval_sets", "augment", "predict_path"])
        self.predict_path = predict_path
        self.augment = None
        if augment:
            from runforge.data.augment import BatchAugment  # only for runs that augment

            self.augment = BatchAugment(augment, self.max_value)
        self.batch_size = batch_size
        self.datasets: dict[str, TensorBatchDataset] = {}
        #: Where each prediction's image came from (set by `predict_dataloader`).
        self.predict_sources: list[str] | None = None
        self._on_device: dict[torch.device, tuple[Tensor, Tensor]] = {}

    @property
    def class_names(self) -> list[str]:
        """The name of each class, by index (`"0"`, `"1"`, ... unless a subclass names them)."""
        return [str(i) for i in range(self.num_classes)]

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        """Return `{"train": (images, labels), "test": (images, labels)}` as tensors.

        Images are (N, C, H, W) with values in [0, max_value]; labels are (N,) int64. A
        `"val"` part, when given, is the validation set; otherwise it is drawn from "train".
        """
        raise NotImplementedError

    # -- Lightning hooks ---------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        """Load the tensors once and split train/val with the seeded generator."""
        if self.datasets:
            return
        parts = self.load()
        hp = self.hparams
        if hp.num_folds:  # cross-validation: fold k of the non-test images is val
            from runforge.data.folds import fold_parts

            folds = fold_parts(parts, hp.num_folds, hp.fold, hp.split_seed, self.class_names)
            parts.update(folds)
        elif "val" not in parts:
            images, labels = parts["train"]
            generator = torch.Generator().manual_seed(self.hparams.split_seed)
            order = torch.randperm(len(labels), generator=generator)
            n_val = max(1, round(len(labels) * self.hparams.val_fraction))
            val_idx, train_idx = order[:n_val], order[n_val:]
            parts["train"] = images[train_idx], labels[train_idx]
            parts["val"] = images[val_idx], labels[val_idx]
        self.datasets = {split: TensorBatchDataset(*parts[split]) for split in STAGES}
        for other in self.eval_sets.values():
            other.trainer = self.trainer  # an extra set's device-resident data: same device
            other.setup("test")

    def _loader(
        self, split: str, loader: type[DataLoader] = DataLoader
    ) -> DataLoader | DeviceBatches:
        dataset = self.datasets[split]
        if self.hparams.device_resident:
            train = loader is ResumableLoader
            return DeviceBatches.for_trainer(
                dataset.images, dataset.labels, self.batch_size, train, self.trainer
            )
        return loader(
            dataset,
            batch_size=self.batch_size,
            num_workers=self.hparams.num_workers,
            pin_memory=self.hparams.pin_memory,
            persistent_workers=self.hparams.num_workers > 0,
            collate_fn=keep_batch,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches, ordered by the seed and the epoch alone (resumable)."""
        return self._loader("train", ResumableLoader)

    @property
    def eval_set_names(self) -> tuple[str, ...]:
        """Names of the extra evaluation sets, in the order of their loaders (after our own)."""
        return tuple(self.eval_sets)

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        """Validation batches (held out from the training part), then each extra set's."""
        return self._with_eval_sets(self._loader("val"))

    def test_dataloader(self) -> DataLoader | list[DataLoader]:
        """Test batches (the dataset's fixed test part), then each extra set's."""
        return self._with_eval_sets(self._loader("test"))

    def _with_eval_sets(self, own: DataLoader) -> DataLoader | list[DataLoader]:
        if not self.eval_sets:
            return own
        return [own, *(other._loader("test") for other in self.eval_sets.values())]

    def predict_dataloader(self) -> DataLoader:
        """Prediction batches, in order: the files of `predict_path`, else the test images."""
        if self.predict_path is None:
            return self._loader("test")
        from runforge.data.predict_files import load_predict_files  # only to predict files

        images, labels, self.predict_sources = load_predict_files(
            self.predict_path, self.input_shape, self.max_value, self.class_names
        )
        self.datasets["predict"] = TensorBatchDataset(images, labels)
        return self._loader("predict")

    def preprocess(self, images: Tensor) -> Tensor:
        """Scale stored images to [0, 1] and normalise them per channel, a whole batch at once.

        Also built into exported models (`runforge.callbacks.ONNXExport`), which therefore take the
        images as stored (uint8).
        """
        mean, std = self._statistics(images.device)
        return images.float().div_(self.max_value).sub_(mean).div_(std)

    def _statistics(self, device: torch.device) -> tuple[Tensor, Tensor]:
        """Mean and std shaped (1, C, 1, 1) on `device`, made once per device."""
        if device not in self._on_device:
            stats = torch.tensor([self.mean, self.std], device=device)
            self._on_device[device] = (stats[0].view(1, -1, 1, 1), stats[1].view(1, -1, 1, 1))
        return self._on_device[device]

    def on_after_batch_transfer(
        self, batch: tuple[Tensor, Tensor] | Tensor, dataloader_idx: int
    ) -> tuple | Tensor:
        """Preprocess each batch on its device (no per-sample transforms).

        A batch of an extra evaluation set (loader 1, 2, ...) is preprocessed by its own data
        module and resized to this data's image size.
        """
        if isinstance(batch, Tensor):  # images alone: the model summary's example input
            return self.preprocess(batch)
        images, labels = batch
        if self.augment is not None and self.trainer is not None and self.trainer.training:
            images = self.augment(images)
        if dataloader_idx == 0:
            return self.preprocess(images), labels
        other = list(self.eval_sets.values())[dataloader_idx - 1]
        images = other.preprocess(images)
        if images.shape[-2:] != self.input_shape[1:]:
            images = F.interpolate(images, size=self.input_shape[1:], mode="bilinear")
        return images, labels

    def state_dict(self) -> dict[str, Any]:
        """Saved in checkpoints: where the augmentation's random draws are."""
        return {"augment": self.augment.state_dict()} if self.augment else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the augmentation's random draws from a checkpoint."""
        if self.augment and "augment" in state_dict:
            self.augment.load_state_dict(state_dict["augment"])

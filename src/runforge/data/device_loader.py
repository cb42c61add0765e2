"""Batches gathered on the accelerator from a dataset copied there whole (`device_resident`)."""

import os
from collections.abc import Iterator

import torch
from lightning.pytorch import Trainer
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch import Tensor
from torch.utils.data import DataLoader, DistributedSampler, Sampler, SequentialSampler

from runforge.data.resumable import EpochSampler


class DeviceBatches:
    """The batches of an in-memory dataset, indexed on the device that holds all of it.

    The images and labels are copied to `device` once. Each epoch's order is drawn exactly
    as a DataLoader with the same sampler draws it (consuming the same random numbers),
    moved to the device as one index tensor and cut into batches there: no worker
    processes, no per-batch copies from the host, and the same batches as the DataLoader
    path for the same seed. Lightning takes it like a DataLoader: it has a length, its
    `sampler` gets `set_epoch` every epoch, and with an `EpochSampler` its position within
    the epoch is checkpointed (`state_dict`), as `ResumableLoader` does.

    Args:
        images: All images of the split, (N, C, H, W) as stored (uint8).
        labels: Their labels, (N,).
        batch_size: Images per batch; the last batch may be smaller.
        device: Where the data and the batches live.
        sampler: Draws the indices (e.g. `EpochSampler` for training); None: in order.
    """

    #: No batch sampler: Lightning reads the order from `sampler` (e.g. to warn about a
    #: shuffled validation set), as for a DataLoader.
    batch_sampler = None

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        batch_size: int,
        device: torch.device | str = "cpu",
        sampler: Sampler[int] | None = None,
    ) -> None:
        self.images = images.to(device)
        self.labels = labels.to(device)
        self.batch_size = batch_size
        #: The index sampler; Lightning calls its `set_epoch` (if any) before each epoch.
        self.sampler = sampler
        count = len(sampler) if sampler is not None else len(labels)
        # One "batch" holding the epoch's whole order, drawn as the DataLoader path draws it.
        # A training order never draws from the global generators (see `ResumableLoader`).
        seed = getattr(sampler, "seed", None) if isinstance(sampler, EpochSampler) else None
        self._order = DataLoader(
            range(len(labels)),
            batch_size=max(count, 1),
            sampler=sampler,
            collate_fn=torch.tensor,
            generator=None if seed is None else torch.Generator().manual_seed(seed),
        )
        self._count = count
        self._served = 0

    @classmethod
    def for_trainer(
        cls, images: Tensor, labels: Tensor, batch_size: int, train: bool, trainer: Trainer | None
    ) -> "DeviceBatches":
        """Batches on the trainer's device, sampled as the DataLoader path samples them.

        Training: an `EpochSampler` (order by seed and epoch, DDP shards, resumable), in
        order with `overfit_batches`. Evaluation: in order; under DDP the process's shard,
        as Lightning gives a DataLoader (padded to equal shards, unpadded when predicting).
        Without a trainer: the CPU.
        """
        indices = range(len(labels))
        sampler: Sampler[int] = SequentialSampler(indices)
        if train and not (trainer is not None and trainer.overfit_batches):
            sampler = EpochSampler(indices)
        elif trainer is not None and trainer.world_size > 1 and trainer.distributed_sampler_kwargs:
            shard = trainer.distributed_sampler_kwargs
            if trainer.predicting:
                sampler = UnrepeatedDistributedSampler(indices, shuffle=False, **shard)
            else:
                seed = int(os.environ.get("PL_GLOBAL_SEED", 0))
                sampler = DistributedSampler(indices, shuffle=False, seed=seed, **shard)
        device = trainer.strategy.root_device if trainer is not None else "cpu"
        return cls(images, labels, batch_size, device, sampler)

    def __len__(self) -> int:
        return -(-self._count // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        """Yield `(images, labels)` batches, already on the device."""
        self._served = getattr(self.sampler, "skip", 0) // self.batch_size
        order = next(iter(self._order), None)  # None: the whole epoch was trained before
        if order is None:
            return
        for index in order.to(self.labels.device, non_blocking=True).split(self.batch_size):
            self._served += 1
            yield self.images[index], self.labels[index]

    def state_dict(self) -> dict[str, int]:
        """With an `EpochSampler`: the epoch and how many of its batches were handed out."""
        if not isinstance(self.sampler, EpochSampler):
            return {}
        return {"epoch": self.sampler.epoch, "batches": self._served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue a checkpointed epoch after the batches it had handed out."""
        if isinstance(self.sampler, EpochSampler) and state:
            self.sampler.set_epoch(state["epoch"])
            self.sampler.skip = state["batches"] * self.batch_size

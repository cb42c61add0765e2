"""A training loader whose order depends only on (seed, epoch) and that can resume mid-epoch.

The shuffle of an epoch is `randperm` seeded with `seed + epoch` (as torch's
`DistributedSampler`, which it extends, so Lightning leaves it in place under DDP and sets
its epoch), never the global random state. The loader counts the batches it has handed
out; Lightning stores that count in the checkpoint (`state_dict`) and, when a fit resumes
from a checkpoint written part-way through an epoch, gives it back (`load_state_dict`) so
the epoch continues with the next batch of the same order.
"""

import os
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler


def _replicas() -> tuple[int, int]:
    """(number of processes, this process's rank) of the running DDP job, or (1, 0)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size(), torch.distributed.get_rank()
    return 1, 0


class EpochSampler(DistributedSampler):
    """Shuffles by (seed, epoch) alone, splits across DDP processes, may skip a prefix once.

    Args:
        dataset: The dataset to sample from.
        seed: Base seed of the shuffle (default: the run's `seed_everything` seed).
    """

    def __init__(self, dataset: Dataset, seed: int | None = None) -> None:
        if seed is None:
            seed = int(os.environ.get("PL_GLOBAL_SEED", 0))
        replicas, rank = _replicas()
        super().__init__(dataset, num_replicas=replicas, rank=rank, shuffle=True, seed=seed)
        #: Samples of the next epoch to leave out at its start (those trained before a stop).
        self.skip = 0

    def set_epoch(self, epoch: int) -> None:
        """Shuffle for `epoch`; a skip left for another epoch is dropped.

        A fit stopped after the last batch of an epoch resumes with the next one, whole.
        """
        if epoch != self.epoch:
            self.skip = 0
        super().set_epoch(epoch)

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        skip, self.skip = self.skip, 0
        return iter(indices[skip:])


class ResumableLoader(DataLoader):
    """A DataLoader over an `EpochSampler` whose position within the epoch is checkpointed.

    It never draws from the global random generators.
    """

    def __init__(self, dataset: Dataset, **kwargs: Any) -> None:
        kwargs.setdefault("sampler", EpochSampler(dataset))
        # Each iterator draws its workers' base seed from this generator, not from the
        # global one that dropout uses (a resumed epoch starts its iterator at another time).
        seed = getattr(kwargs["sampler"], "seed", 0)
        kwargs.setdefault("generator", torch.Generator().manual_seed(seed))
        super().__init__(dataset, **kwargs)
        #: The epoch being iterated and how many of its batches were handed out.
        self._epoch, self._served = 0, 0

    def __iter__(self) -> Iterator[Any]:
        epoch, skip = self._position()
        self._epoch, self._served = epoch, skip // (self.batch_size or 1)
        for batch in super().__iter__():
            self._served += 1
            yield batch

    def _position(self) -> tuple[int, int]:
        """(epoch, samples to skip) of the sampler; (0, 0) for one Lightning swapped in.

        `overfit_batches` replaces the sampler with a sequential one.
        """
        if isinstance(self.sampler, EpochSampler):
            return self.sampler.epoch, self.sampler.skip
        return 0, 0

    def state_dict(self) -> dict[str, int]:
        """The epoch and how many of its batches were handed out so far."""
        return {"epoch": self._epoch, "batches": self._served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue the checkpointed epoch after the batches it had handed out."""
        if not isinstance(self.sampler, EpochSampler):  # Lightning's own (overfit_batches)
            return
        self.sampler.set_epoch(state["epoch"])
        self.sampler.skip = state["batches"] * (self.batch_size or 1)

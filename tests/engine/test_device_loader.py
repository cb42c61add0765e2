"""`device_resident`: batches gathered on the device give what the DataLoader path gives."""

import pytest
import torch
from toy import Bars

from helpers import TOY, only_run_dir, run_cli, run_main
from runforge.data.device_loader import DeviceBatches
from runforge.data.resumable import EpochSampler

LOADERS = {"train": "train_dataloader", "val": "val_dataloader", "test": "test_dataloader"}


def _epochs(loader, epochs: int, seed: int = 7) -> list[tuple[torch.Tensor, torch.Tensor]]:
    torch.manual_seed(seed)
    batches = []
    for epoch in range(epochs):
        if hasattr(loader.sampler, "set_epoch"):
            loader.sampler.set_epoch(epoch)  # what Lightning does before each epoch
        batches += list(loader)
    return batches


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_same_batches_as_the_dataloader_for_the_same_seed(split):
    plain = Bars(batch_size=100)
    resident = Bars(batch_size=100, device_resident=True)
    plain.setup(), resident.setup()
    expected = _epochs(getattr(plain, LOADERS[split])(), 2)
    got = _epochs(getattr(resident, LOADERS[split])(), 2)
    assert len(got) == len(expected) == 2 * len(getattr(resident, LOADERS[split])())
    for (x, y), (x_ref, y_ref) in zip(got, expected, strict=True):
        assert torch.equal(x, x_ref) and torch.equal(y, y_ref)
    if split == "train":  # a new order every epoch
        assert not torch.equal(got[0][1], got[len(got) // 2][1])
    # The global random state moved on exactly as it does with the DataLoader.
    torch.manual_seed(0)
    _epochs(getattr(plain, LOADERS[split])(), 1)
    after_plain = torch.rand(1)
    torch.manual_seed(0)
    _epochs(getattr(resident, LOADERS[split])(), 1)
    assert torch.equal(torch.rand(1), after_plain)


def test_an_epoch_continues_after_the_checkpointed_batches():
    images, labels = torch.zeros(50, 1, 1, 1, dtype=torch.uint8), torch.arange(50)
    loader = DeviceBatches(images, labels, 8, sampler=EpochSampler(labels, seed=3))
    whole = [y.tolist() for _, y in _epochs(loader, 3)][-len(loader) :]
    loader.sampler.set_epoch(2)
    iterator = iter(loader)
    seen = [next(iterator)[1].tolist() for _ in range(3)]
    state = loader.state_dict()
    assert state == {"epoch": 2, "batches": 3} and seen == whole[:3]
    resumed = DeviceBatches(images, labels, 8, sampler=EpochSampler(labels, seed=3))
    resumed.load_state_dict(state)
    assert [y.tolist() for _, y in resumed] == whole[3:]
    assert resumed.state_dict() == {"epoch": 2, "batches": len(whole)}


def test_ddp_shards_are_disjoint_and_cover_the_data(monkeypatch):
    images, labels = torch.zeros(10, 1, 1, 1, dtype=torch.uint8), torch.arange(10)

    class FakeDDPTrainer:
        world_size, predicting, overfit_batches = 2, False, 0
        strategy = type("Strategy", (), {"root_device": torch.device("cpu")})

        def __init__(self, rank: int) -> None:
            self.distributed_sampler_kwargs = {"num_replicas": 2, "rank": rank}

    for train in (True, False):
        shards = []
        for rank in (0, 1):  # training shards come from the EpochSampler's process group
            monkeypatch.setattr("runforge.data.resumable._replicas", lambda r=rank: (2, r))
            shards.append(DeviceBatches.for_trainer(images, labels, 2, train, FakeDDPTrainer(rank)))
        assert [len(s) for s in shards] == [3, 3]  # 5 images each, in batches of 2
        first, second = ([y for _, batch in shard for y in batch.tolist()] for shard in shards)
        assert sorted(first + second) == list(range(10))


def test_overfit_batches_trains_on_the_first_batches_in_order():
    images, labels = torch.zeros(10, 1, 1, 1, dtype=torch.uint8), torch.arange(10)
    trainer = type("Trainer", (), {"overfit_batches": 2, "world_size": 1})
    trainer.strategy = type("Strategy", (), {"root_device": torch.device("cpu")})
    loader = DeviceBatches.for_trainer(images, labels, 4, True, trainer)
    assert [y.tolist() for _, y in _epochs(loader, 2)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] * 2


def test_refuses_workers_and_pinned_memory():
    for kwargs in ({"num_workers": 2}, {"pin_memory": True}):
        with pytest.raises(ValueError, match="device_resident.*num_workers 0"):
            Bars(device_resident=True, **kwargs)


def test_a_fit_gives_the_same_weights_as_the_dataloader_path(tmp_path):
    args = [*TOY, "--trainer.max_epochs", "2", "--trainer.limit_train_batches", "4"]
    args += ["--trainer.limit_val_batches", "2"]
    states = []
    for resident in ("false", "true"):
        logs = tmp_path / resident
        run_cli("fit", *args, "--data.device_resident", resident, "--run.root", str(logs))
        ckpt = only_run_dir(logs) / "checkpoints" / "last.ckpt"
        states.append(torch.load(ckpt, weights_only=True)["state_dict"])
    plain, resident = states
    assert plain.keys() == resident.keys()
    changed = [k for k in plain if not torch.equal(plain[k], resident[k])]
    assert not changed, changed


@pytest.mark.slow
def test_ddp_on_two_processes_trains_as_the_dataloader_path(tmp_path):
    """Each process gathers its own shard on its device; the weights match the DataLoader's."""
    ddp = ["--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp"]
    args = ["fit", *TOY, *ddp, "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "4"]
    args += ["--trainer.limit_val_batches", "1"]
    states = []
    for resident in ("false", "true"):
        logs = tmp_path / resident
        result = run_main(*args, "--data.device_resident", resident, "--run.root", str(logs))
        assert result.returncode == 0, result.stderr[-3000:]
        ckpt = torch.load(only_run_dir(logs) / "checkpoints" / "last.ckpt", weights_only=True)
        assert ckpt["global_step"] == 4
        states.append(ckpt["state_dict"])
    plain, resident = states
    assert all(torch.equal(plain[k], resident[k]) for k in plain)

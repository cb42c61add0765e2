"""The training order depends on (seed, epoch) alone and an epoch can continue part-way;
`RestoreRNG` puts back every random generator a step draws from."""

import random

import numpy as np
import torch

from runforge.callbacks.exact_resume import rng_state, set_rng_state
from runforge.data.resumable import EpochSampler, ResumableLoader
from runforge.runs import RunDirectory
from runforge.runs.resolve import resolve_run


def _batches(loader, epoch: int) -> list[list[int]]:
    loader.sampler.set_epoch(epoch)
    return [batch.tolist() for batch in loader]


def test_the_order_depends_on_seed_and_epoch_not_on_the_global_generator():
    data = torch.arange(50)
    first = ResumableLoader(data, batch_size=8, sampler=EpochSampler(data, seed=3))
    torch.manual_seed(0)
    epoch0 = _batches(first, 0)
    torch.manual_seed(1)
    again = ResumableLoader(data, batch_size=8, sampler=EpochSampler(data, seed=3))
    assert _batches(again, 0) == epoch0
    assert _batches(again, 1) != epoch0
    other_seed = ResumableLoader(data, batch_size=8, sampler=EpochSampler(data, seed=4))
    assert _batches(other_seed, 0) != epoch0
    assert sorted(sum(epoch0, [])) == list(range(50))


def test_an_epoch_continues_after_the_batches_handed_out_before_the_checkpoint():
    data = torch.arange(50)
    loader = ResumableLoader(data, batch_size=8, sampler=EpochSampler(data, seed=3))
    whole = _batches(loader, 2)
    loader.sampler.set_epoch(2)
    iterator = iter(loader)
    seen = [next(iterator).tolist() for _ in range(3)]
    state = loader.state_dict()
    assert state == {"epoch": 2, "batches": 3}

    fresh = ResumableLoader(data, batch_size=8, sampler=EpochSampler(data, seed=3))
    fresh.load_state_dict(state)
    rest = [batch.tolist() for batch in fresh]
    assert seen + rest == whole
    assert len(fresh) == len(whole), "the epoch's length stays the whole epoch's"
    assert _batches(fresh, 3) == _batches(loader, 3), "the next epoch starts at its beginning"


def test_the_generators_state_round_trips_through_weights_only_loading(tmp_path):
    torch.manual_seed(5)
    np.random.seed(5)
    random.seed(5)
    np.random.standard_normal()  # numpy keeps a cached gaussian
    state = rng_state()
    expected = (torch.rand(3), np.random.rand(3), random.random(), np.random.standard_normal())
    torch.save(state, tmp_path / "state.pt")
    set_rng_state(torch.load(tmp_path / "state.pt", weights_only=True))
    drawn = (torch.rand(3), np.random.rand(3), random.random(), np.random.standard_normal())
    assert torch.equal(drawn[0], expected[0]) and np.array_equal(drawn[1], expected[1])
    assert drawn[2:] == expected[2:]


def test_last_in_a_run_stopped_before_its_first_checkpoint_starts_it_again(tmp_path):
    run = RunDirectory(root=str(tmp_path), name="exp", version="v1")
    run.path.mkdir(parents=True)
    (run.path / "config.yaml").write_text("{}\n")
    assert resolve_run(run, "last", "fit") == (run, None)


def test_a_skip_applies_to_its_own_epoch_only():
    data = torch.arange(50)
    loader = ResumableLoader(data, batch_size=8, sampler=EpochSampler(data, seed=3))
    loader.sampler.set_epoch(2)
    whole_epoch_2 = [batch.tolist() for batch in loader]
    loader.sampler.set_epoch(3)  # Lightning moves on before the next epoch's first batch
    assert loader.state_dict() == {"epoch": 2, "batches": 7}, "the epoch that was iterated"

    # A fit stopped after the last batch of epoch 2 resumes with epoch 3, whole.
    fresh = ResumableLoader(data, batch_size=8, sampler=EpochSampler(data, seed=3))
    fresh.load_state_dict(loader.state_dict())
    fresh.sampler.set_epoch(3)
    assert [batch.tolist() for batch in fresh] == _batches(loader, 3)
    fresh.load_state_dict({"epoch": 2, "batches": 5})
    fresh.sampler.set_epoch(2)  # the same epoch: the skip stays
    assert [batch.tolist() for batch in fresh] == whole_epoch_2[5:]

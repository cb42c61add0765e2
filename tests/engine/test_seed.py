"""`seed_everything: true` draws a random seed, records it, and every process of a run agrees."""

import pytest
import torch
import yaml

from helpers import TINY, TOY, read_json, run_cli
from runforge.runs.seed import random_seed


def test_true_draws_a_seed_recorded_in_config_and_provenance(tmp_path):
    seeds = []
    for version in ("first", "second"):
        run_cli(
            "fit", *TOY, *TINY, "--seed_everything", "true",
            "--run.root", str(tmp_path), "--run.version", version,
        )  # fmt: skip
        run = tmp_path / "default" / version
        recorded = yaml.safe_load((run / "config.yaml").read_text())["seed_everything"]
        assert type(recorded) is int, "config.yaml holds the seed drawn, not `true`"
        assert read_json(run / "provenance.json")["entries"][0]["seed"] == recorded
        assert torch.initial_seed() == recorded, "the seed recorded is the one used"
        seeds.append(recorded)
    assert seeds[0] != seeds[1], "two runs in one process draw two seeds"
    assert 0 not in seeds, "Lightning's own `true` seeds 0"


def test_processes_of_one_launch_agree(monkeypatch):
    monkeypatch.delenv("PL_GLOBAL_SEED", raising=False)
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job7")
    monkeypatch.setenv("WORLD_SIZE", "2")
    seed = random_seed()
    assert seed == random_seed() and 0 <= seed < 2**32  # every rank derives it from the launch
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job8")
    assert random_seed() != seed, "another launch, another seed"
    monkeypatch.delenv("TORCHELASTIC_RUN_ID")
    monkeypatch.delenv("WORLD_SIZE")
    # A process Lightning started for another device inherits the launcher's seed ...
    monkeypatch.setenv("PL_GLOBAL_SEED", "1234")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert random_seed() == 1234
    # ... while the launching process itself draws anew, even after an earlier run set it.
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert random_seed() != 1234


@pytest.mark.parametrize("seed", ["7", "false"])
def test_a_fixed_seed_or_none_is_left_to_lightning(tmp_path, seed):
    cli = run_cli("fit", *TOY, *TINY, "--seed_everything", seed, "--run.root", str(tmp_path))
    assert cli.config.fit.seed_everything == {"7": 7, "false": False}[seed]

"""The `.wandb` reader follows records across W&B's 32 KiB blocks."""

import pytest

from wandb_files import BLOCK, iter_records


def test_reads_every_history_row_of_a_multi_block_run(tmp_path):
    import wandb

    run = wandb.init(mode="offline", dir=tmp_path, project="p", config={"lr": 0.5})
    for step in range(600):
        run.log({"loss": 1.0 / (step + 1), "note": "x" * 40}, step=step)
    run.finish()
    wandb.teardown()  # returns once the service has written the run file out
    (path,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    assert path.stat().st_size > 3 * BLOCK
    records = list(iter_records(path))
    kinds = [record.WhichOneof("record_type") for record in records]
    assert kinds.count("run") >= 1
    steps = [record.history.step.num for record in records if record.HasField("history")]
    assert steps == list(range(600))


def test_other_files_are_refused(tmp_path):
    path = tmp_path / "x.wandb"
    path.write_bytes(b"not a run file")
    with pytest.raises(ValueError, match="not a W&B run file"):
        list(iter_records(path))

"""compare.py: a table of an experiment's runs read from their directories."""

import csv
import signal

import pytest
from lightning.pytorch import Callback

from helpers import DIGITS, TINY, read_json, run_cli, start_script, wait_for

LR = "--model.init_args.optimizer.init_args.lr"


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    """Two finished one-epoch runs that differ in learning rate; the second was tested."""
    logs = tmp_path_factory.mktemp("compare") / "logs"
    common = [*DIGITS, *TINY, "--run.root", str(logs), "--run.name", "exp"]
    run_cli("fit", *common, LR, "0.003", "--run.version", "a")
    run_cli("fit", *common, LR, "0.01", "--run.version", "b", "--test_after_fit", "true")
    return logs / "exp"


def test_the_table_shows_status_metrics_and_the_differing_keys(experiment, capsys, tmp_path):
    import compare

    compare.main([str(experiment), "--csv", str(tmp_path / "runs.csv")])
    out = capsys.readouterr().out
    assert out.startswith(f"{experiment}: 2 run(s)")
    with (tmp_path / "runs.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert [row["version"] for row in rows] == ["a", "b"]
    assert [row["status"] for row in rows] == ["finished", "finished"]
    assert [row["epochs"] for row in rows] == ["1", "1"]
    assert [row["model.optimizer.lr"] for row in rows] == ["0.003", "0.01"]
    assert "test_after_fit" in rows[0], "a differing flag is a column too"
    assert "run.version" not in rows[0] and "seed_everything" not in rows[0]
    test_acc = read_json(experiment / "b" / "test_metrics.json")["test/acc"]
    assert rows[1]["test/acc"] == f"{test_acc:.4f}" and rows[0]["test/acc"] == ""
    for row in rows:
        assert 0.0 <= float(row["best val/acc"]) <= 1.0
        assert len(row["git"].split("+")[0]) == 8 and float(row["wall_s"]) >= 0
    for row in rows:  # the printed table holds the same cells
        assert row["version"] in out and row["model.optimizer.lr"] in out


def test_a_folder_without_runs_is_one_error(tmp_path, capsys):
    import compare

    with pytest.raises(SystemExit) as exit_info:
        compare.main([str(tmp_path)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path} holds no run directories (logs/<name>/<version>/)"
    )


class Explode(Callback):
    """Fails a fit at the end of its first training epoch (named by a test's config)."""

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        """Raise, as a bug in a callback would."""
        raise RuntimeError("boom")


@pytest.mark.slow
def test_finished_killed_and_failed_runs_have_their_status(tmp_path):
    import compare

    logs = tmp_path / "logs"
    common = [*DIGITS, "--run.root", str(logs), "--run.name", "exp"]
    run_cli("fit", *common, *TINY, "--run.version", "finished")
    with pytest.raises(RuntimeError, match="boom"):
        run_cli("fit", *common, *TINY, "--run.version", "failed",
                "--trainer.callbacks+=test_compare.Explode")  # fmt: skip
    killed = ["--run.version", "killed", "--trainer.max_epochs", "1000"]
    process = start_script("main.py", "fit", *common, *killed)
    wait_for(logs / "exp" / "killed" / "checkpoints" / "last.ckpt", process)
    process.send_signal(signal.SIGKILL)
    process.wait()

    compare.main([str(logs / "exp"), "--csv", str(tmp_path / "runs.csv")])
    with (tmp_path / "runs.csv").open() as file:
        statuses = {row["version"]: row["status"] for row in csv.DictReader(file)}
    assert statuses == {"failed": "failed", "finished": "finished", "killed": "killed"}


def test_a_running_status_of_a_live_process_is_running(experiment, tmp_path):
    import json
    import os
    import shutil

    from runs.records import read_run

    run = tmp_path / "exp" / "live"
    shutil.copytree(experiment / "a", run)
    provenance = json.loads((run / "provenance.json").read_text())
    entry = provenance["entries"][-1]
    entry.pop("ended_at", None)
    entry["status"], entry["pid"] = "running", os.getpid()
    (run / "provenance.json").write_text(json.dumps(provenance))
    assert read_run(run).status == "running"
    entry["pid"] = 2**22 + 1  # above Linux's pid_max: no such process
    (run / "provenance.json").write_text(json.dumps(provenance))
    assert read_run(run).status == "killed"

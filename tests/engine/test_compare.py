"""compare.py: a table of an experiment's runs read from their directories."""

import csv
import json
import os
import shutil
import signal

import pytest
import torch
from lightning.pytorch import Callback

from helpers import TINY, TOY, read_json, run_cli, start_script, wait_for

LR = "--model.init_args.optimizer.init_args.lr"


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    """Two finished one-epoch runs that differ in learning rate; the second was tested."""
    logs = tmp_path_factory.mktemp("compare") / "logs"
    common = [*TOY, *TINY, "--run.root", str(logs), "--run.name", "exp"]
    run_cli("fit", *common, LR, "0.003", "--run.version", "a")
    run_cli("fit", *common, LR, "0.01", "--run.version", "b", "--test_after_fit", "true")
    return logs / "exp"


def test_the_table_shows_status_metrics_and_the_differing_keys(experiment, capsys, tmp_path):
    from runforge.many import compare

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
    from runforge.many import compare

    with pytest.raises(SystemExit) as exit_info:
        compare.main([str(tmp_path)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path} holds no run directories (logs/<name>/<version>/)"
    )


def _break(run, how: str) -> str:
    """Break one file of `run` as `how` says; return the note the table shows for it."""
    ckpt, metrics = run / "checkpoints" / "last.ckpt", run / "test_metrics.json"
    if how == "random-ckpt":
        ckpt.write_bytes(os.urandom(4096))
        return "last.ckpt cannot be read ("
    if how == "truncated-ckpt":
        ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
        return "last.ckpt cannot be read ("
    if how == "not-a-checkpoint":
        torch.save([1, 2, 3], ckpt)
        return "last.ckpt is not a Lightning checkpoint (no epoch)"
    if how == "non-numeric-metrics":
        metrics.write_text(json.dumps({"test/acc": "n/a", "test/loss": [1, 2], "test/f1": 0.5}))
        return "test_metrics.json: not a number: test/acc, test/loss"
    metrics.write_text("{not json")
    return "test_metrics.json is not a JSON mapping of metric -> number"


BROKEN = ["random-ckpt", "truncated-ckpt", "not-a-checkpoint", "non-numeric-metrics", "not-json"]


def test_a_broken_run_is_shown_with_a_note_and_the_others_as_usual(experiment, capsys, tmp_path):
    from runforge.many import compare

    copy = tmp_path / "exp"
    shutil.copytree(experiment / "a", copy / "a")
    notes = {}
    for how in BROKEN:
        shutil.copytree(experiment / "b", copy / how)
        notes[how] = _break(copy / how, how)
    out_csv = tmp_path / "missing" / "folders" / "runs.csv"
    compare.main([str(copy), "--csv", str(out_csv)])
    out = capsys.readouterr().out
    assert out.rstrip().endswith(f"Written to {out_csv}"), "into folders made for it"
    with out_csv.open() as file:
        rows = {row["version"]: row for row in csv.DictReader(file)}
    assert sorted(rows) == sorted(["a", *BROKEN]), "every run is shown"
    assert rows["a"]["note"] == "" and rows["a"]["epochs"] == "1" and rows["a"]["best val/acc"]
    for how, note in notes.items():
        assert rows[how]["note"].startswith(note), (how, rows[how]["note"])
        assert rows[how]["status"] == "finished", "from provenance.json, as before"
        ckpt_broken = how.endswith(("ckpt", "checkpoint"))
        assert (rows[how]["epochs"] == "") == ckpt_broken, how
        assert (rows[how]["test/acc"] == "") == (not ckpt_broken), how
    assert rows["non-numeric-metrics"]["test/f1"] == "0.5000", "the numbers that are there"
    for how, note in notes.items():  # the printed table: a line per note under it
        assert f"\nnote: {how}: {note}" in out, how


def test_a_csv_that_cannot_be_written_is_one_error(experiment, capsys, tmp_path):
    from runforge.many import compare

    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as exit_info:
        compare.main([str(experiment), "--csv", str(tmp_path / "file" / "runs.csv")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: --csv {tmp_path / 'file' / 'runs.csv'}: cannot be written "
        f"(File exists: {tmp_path / 'file'})"
    )


def test_the_best_column_of_sweep_trials_is_the_sweeps_monitor(experiment, tmp_path):
    """A sweep that minimised val/loss: its value, not the ModelCheckpoint's val/acc."""
    from runforge.many import compare
    from runforge.records.read_run import read_run

    records = {"trial-0000": (0.25, "complete"), "trial-0001": (0.75, "pruned")}
    for version, (best, state) in records.items():
        shutil.copytree(experiment / "a", tmp_path / "t" / version)
        trial = {"state": state, "value": best if state == "complete" else None, "best": best}
        trial.update(monitor="val/loss", direction="minimize")
        (tmp_path / "t" / version / "sweep_trial.json").write_text(json.dumps(trial))
    rows = compare.table_rows([read_run(run) for run in sorted((tmp_path / "t").iterdir())])
    assert rows[0][3] == "best val/loss"
    assert [row[3] for row in rows[1:]] == ["0.2500", "0.7500"]


class Explode(Callback):
    """Fails a fit at the end of its first training epoch (named by a test's config)."""

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        """Raise, as a bug in a callback would."""
        raise RuntimeError("boom")


@pytest.mark.slow
def test_finished_killed_and_failed_runs_have_their_status(tmp_path):
    from runforge.many import compare

    logs = tmp_path / "logs"
    common = [*TOY, "--run.root", str(logs), "--run.name", "exp"]
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

    from runforge.records.read_run import read_run

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

"""compare.py: a table of an experiment's runs read from their directories."""

import csv

import pytest

from helpers import DIGITS, TINY, read_json, run_cli

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

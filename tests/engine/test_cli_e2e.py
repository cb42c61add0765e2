"""End-to-end contract of the CLI: fit, test, predict, print_config, clear errors."""

import csv
import shutil
import subprocess
import sys

import pytest
import yaml

from helpers import ROOT, TINY, TOY, only_run_dir, read_json, run_cli, run_main

N_TEST = 360  # the test part of toy.Bars
WARMUP = [
    "--model.lr_scheduler",
    "runforge.optim.WarmupSchedule",
    "--model.lr_scheduler.warmup_steps",
]


def test_fit_leaves_one_run_directory(trained_run):
    assert (trained_run / "config.yaml").is_file()
    assert (trained_run / "checkpoints" / "last.ckpt").is_file()
    assert (trained_run / "tensorboard").is_dir()


@pytest.mark.slow
def test_test_writes_metrics_into_the_checkpoints_run(trained_run):
    ckpt = trained_run / "checkpoints" / "last.ckpt"
    result = run_main("test", "-c", str(trained_run / "config.yaml"), "--ckpt_path", str(ckpt))
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = read_json(trained_run / "test_metrics.json")
    assert f"Metrics: {trained_run / 'test_metrics.json'}" in result.stderr, "says where"
    assert metrics["test/acc"] >= 0.9  # 5% of the labels are wrong: at most about 0.95
    assert 0 < metrics["test/loss"] < 1.0


@pytest.mark.slow
def test_validate_writes_metrics(trained_run):
    ckpt = trained_run / "checkpoints" / "last.ckpt"
    result = run_main("validate", "-c", str(trained_run / "config.yaml"), "--ckpt_path", str(ckpt))
    assert result.returncode == 0, result.stderr[-3000:]
    assert read_json(trained_run / "validate_metrics.json")["val/acc"] >= 0.9
    assert f"Metrics: {trained_run / 'validate_metrics.json'}" in result.stderr, "says where"


def test_predict_writes_one_row_per_test_sample(trained_run):
    ckpt = trained_run / "checkpoints" / "last.ckpt"
    result = run_main("predict", "-c", str(trained_run / "config.yaml"), "--ckpt_path", str(ckpt))
    assert result.returncode == 0, result.stderr[-3000:]
    with open(trained_run / "predictions.csv") as file:
        rows = list(csv.DictReader(file))
    assert {"index", "label", "pred", "pred_name", "prob"} <= set(rows[0])
    assert [int(r["index"]) for r in rows] == list(range(N_TEST))
    assert all(0 <= int(r["pred"]) <= 9 and 0.0 < float(r["prob"]) <= 1.0 for r in rows)
    accuracy = sum(r["pred"] == r["label"] for r in rows) / len(rows)
    assert accuracy > 0.5, accuracy  # the true labels of the test part, next to the predictions


@pytest.mark.slow
def test_print_config_round_trips(tmp_path):
    printed = run_main("fit", *TOY, *TINY, "--print_config")
    assert printed.returncode == 0, printed.stderr[-3000:]
    saved = tmp_path / "x.yaml"
    saved.write_text(printed.stdout)
    assert "class_path: toy.Bars" in printed.stdout
    logs = tmp_path / "logs"
    result = run_main(
        "fit", "-c", str(saved), "--trainer.fast_dev_run", "true", "--run.root", str(logs),
        "--test_after_fit", "true",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    written = [p for p in logs.rglob("*") if p.is_file()] if logs.exists() else []
    assert not written, "fast_dev_run must write nothing"
    assert "nothing was written" in result.stdout + result.stderr
    # A real fit from the saved file runs the same config (only the run's folder differs).
    run_cli("fit", "-c", str(saved), "--run.root", str(logs))
    recorded = yaml.safe_load((only_run_dir(logs) / "config.yaml").read_text())
    given = yaml.safe_load(saved.read_text())
    for config in (recorded, given):
        config.pop("run")
    assert recorded == given


@pytest.mark.slow
def test_runs_from_any_working_directory(tmp_path):
    logs = tmp_path / "logs"
    result = run_main(
        "fit", *TOY, "--trainer.max_epochs", "1", "--run.root", str(logs), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run = only_run_dir(logs)
    assert (run / "config.yaml").is_file()
    assert f"Run directory: {run}" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-c", "configs/nope.yaml"], "nope.yaml"),
        (["--trainer.max_epochs", "abc"], "trainer.max_epochs"),
        (["--trainer.not_a_key", "1"], "trainer.not_a_key"),
        (["--ckpt_path", "missing.ckpt"], "missing.ckpt"),
        (["--run.version", "a/b"], "run.version"),
        (["--data.batch_size", "0"], "batch_size must be >= 1"),
        (WARMUP + ["-3"], "warmup_steps=-3 must be >= 0"),
        (WARMUP + ["100000"], "warmup_steps=100000"),
        (["--model.optimizer.lr", "-1"], "model.optimizer: Invalid learning rate: -1"),
        (["--drop_callbacks", "[EarlyStoping]"], "drop_callbacks: no configured callback is"),
    ],
    ids=[
        "missing-config",
        "bad-type",
        "unknown-key",
        "missing-ckpt",
        "bad-version",
        "bad-class-argument",
        "bad-schedule-argument",
        "warmup-longer-than-run",
        "bad-optimizer-value",
        "unknown-dropped-callback",
    ],
)
@pytest.mark.slow
def test_bad_input_gets_one_clear_error(tmp_path, args, expected):
    logs = tmp_path / "logs"
    result = run_main("fit", *TOY, "--run.root", str(logs), *args)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and expected in errors[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "usage:" not in result.stderr
    assert not logs.exists(), "a failed start must not leave a run directory"


def test_main_finds_root_loads_dotenv_and_changes_directory(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (project / ".project-root").touch()
    (project / ".env").write_text("TEMPLATE_TEST_VALUE=from-dotenv\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import os, runpy, sys; sys.path.insert(0, sys.argv[1] + '/src');"
        "runpy.run_path(sys.argv[1] + '/src/main.py', run_name='probe');"
        "print(os.environ['TEMPLATE_TEST_VALUE'], os.environ['PROJECT_ROOT'], os.getcwd())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(project)], cwd=elsewhere, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    value, root, cwd = out.stdout.split()
    assert value == "from-dotenv"
    assert root == cwd == str(project)

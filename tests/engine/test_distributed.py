"""Two CPU processes with DDP share one run directory and write its files once."""

import math
import subprocess
import sys

import pytest
from toy import Bars

from helpers import ROOT, TOY, only_run_dir, read_json, run_main

#: A 2-epoch fit with DDP on two CPU processes, testing the best checkpoint afterwards.
DDP_FIT = [
    "fit", *TOY,
    "--trainer.accelerator", "cpu",
    "--trainer.devices", "2",
    "--trainer.strategy", "ddp",
    "--trainer.max_epochs", "2",
    "--test_after_fit", "true",
]  # fmt: skip


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_writes_one_run(tmp_path):
    logs = tmp_path / "logs"
    # A rank waiting on a collective the other skipped hangs: the timeout fails it instead.
    result = run_main(*DDP_FIT, "--run.root", str(logs), timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    run = only_run_dir(logs)
    assert not (run / "run.lock").exists(), "rank zero's lock, shared by rank one, is given back"
    assert (run / "config.yaml").is_file()
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert read_json(run / "test_metrics.json")["test/acc"] > 0.5
    # The schedule is planned for the steps of one process: each sees half the batches.
    datamodule = Bars()
    datamodule.setup("fit")
    per_device = math.ceil(math.ceil(len(datamodule.datasets["train"]) / 2) / 64)
    planned = (run / "lr_curve.csv").read_text().splitlines()[1:]
    assert len(planned) == 2 * per_device


@pytest.mark.slow
def test_torchrun_processes_agree_on_the_run_directory(tmp_path):
    logs = tmp_path / "logs"
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
    ]
    result = subprocess.run(
        [*torchrun, str(ROOT / "src" / "main.py"), *DDP_FIT, "--run.root", str(logs)],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    run = only_run_dir(logs)
    assert run.name.startswith("torchrun-")
    assert not (run / "run.lock").exists()
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert read_json(run / "test_metrics.json")["test/acc"] > 0.5

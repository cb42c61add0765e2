"""Two CPU processes with DDP share one run directory and write its files once."""

import math
import subprocess
import sys

from data_modules import DigitsDataModule
from helpers import DIGITS, ROOT, only_run_dir, read_json, run_main


def test_ddp_on_two_cpu_processes_writes_one_run(tmp_path):
    logs = tmp_path / "logs"
    result = run_main(
        "fit", *DIGITS,
        "--run.root", str(logs),
        "--trainer.accelerator", "cpu",
        "--trainer.devices", "2",
        "--trainer.strategy", "ddp",
        "--trainer.max_epochs", "2",
        "--test_after_fit", "true",
        timeout=180,  # a rank waiting on a collective the other skipped hangs: fail instead
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    run = only_run_dir(logs)
    assert (run / "config.yaml").is_file()
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert read_json(run / "test_metrics.json")["test/acc"] > 0.5
    # The schedule is planned for the steps of one process: each sees half the batches.
    datamodule = DigitsDataModule()
    datamodule.setup("fit")
    per_device = math.ceil(math.ceil(len(datamodule.datasets["train"]) / 2) / 64)
    planned = (run / "lr_curve.csv").read_text().splitlines()[1:]
    assert len(planned) == 2 * per_device


def test_torchrun_processes_agree_on_the_run_directory(tmp_path):
    logs = tmp_path / "logs"
    result = subprocess.run(
        [
            sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            str(ROOT / "src" / "main.py"), "fit", *DIGITS,
            "--run.root", str(logs),
            "--trainer.accelerator", "cpu",
            "--trainer.devices", "2",
            "--trainer.strategy", "ddp",
            "--trainer.max_epochs", "2",
            "--test_after_fit", "true",
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    run = only_run_dir(logs)
    assert run.name.startswith("torchrun-")
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert read_json(run / "test_metrics.json")["test/acc"] > 0.5

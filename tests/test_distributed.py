"""Two CPU processes with DDP share one run directory and write its files once."""

from helpers import DIGITS, only_run_dir, read_json, run_main


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

"""Exit codes: a finished fit 0, a stopped one 143 / 130 (resumable), a second Ctrl-C at once."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from helpers import DIGITS, ROOT, TINY, only_run_dir, read_json, run_cli, run_main
from tasks import ImageClassifier

#: Batches that take a while on a CPU, so that a second Ctrl-C comes during the first's stop.
SLOW_BATCHES = [
    "--model.net.channels", "[256, 512]",
    "--data.batch_size", "1024",
    "--trainer.limit_val_batches", "0",
]  # fmt: skip


@pytest.mark.slow
def test_a_finished_fit_exits_0_and_names_its_run(tmp_path):
    result = run_main("fit", *DIGITS, *TINY, "--run.root", str(tmp_path / "logs"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Run directory:" in result.stdout + result.stderr
    [entry] = read_json(only_run_dir(tmp_path / "logs") / "provenance.json")["entries"]
    assert entry["status"] == "finished" and "error" not in entry


def test_a_bug_during_the_fit_keeps_its_traceback(tmp_path, monkeypatch):
    def broken_step(self, batch, batch_idx):
        raise RuntimeError("a bug in the network")

    monkeypatch.setattr(ImageClassifier, "training_step", broken_step)
    with pytest.raises(RuntimeError, match="a bug in the network"):  # not SystemExit(2)
        run_cli("fit", *DIGITS, *TINY, "--run.root", str(tmp_path / "logs"))
    [entry] = read_json(only_run_dir(tmp_path / "logs") / "provenance.json")["entries"]
    assert (entry["status"], entry["error"]) == ("failed", "RuntimeError: a bug in the network")


@pytest.mark.slow
def test_a_second_ctrl_c_stops_at_once(tmp_path):
    command = [sys.executable, str(ROOT / "src" / "main.py"), "fit", *DIGITS, *SLOW_BATCHES]
    process = subprocess.Popen(
        [*command, "--run.root", str(tmp_path / "logs")], cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True)
    reader.start()

    def wait_for(text: str) -> None:
        deadline = time.monotonic() + 240
        while not any(text in line for line in lines):
            assert process.poll() is None, "".join(lines)[-3000:]
            assert time.monotonic() < deadline, f"no {text!r} in {''.join(lines)[-3000:]}"
            time.sleep(0.01)

    try:
        wait_for("LRCurve")  # training has started
        process.send_signal(signal.SIGINT)
        wait_for("SIGINT received: stopping after the current batch")
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        process.kill()
        reader.join(timeout=10)
    output = "".join(lines)
    assert process.returncode == 130, output[-3000:]
    assert "Second interrupt: stopped at once, without saving." in output
    assert "Resume with" not in output

"""Start-up stays lean: heavy optional packages are imported only by the features that use them."""

import subprocess
import sys

from helpers import ROOT

#: Imported only when used: loggers (W&B, MLflow), ONNX export, sweeps, scikit-learn's data.
OPTIONAL = {"wandb", "mlflow", "onnx", "onnxruntime", "onnxscript", "optuna", "sklearn"}


def _imported(*args: str) -> set[str]:
    """Top-level packages that `python -X importtime ARGS` imported (read from its report)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    return {line.split("|")[2].strip().split(".")[0] for line in lines[1:]}


def test_the_cli_and_every_package_import_no_optional_package():
    packages = "cli, callbacks, data_modules, loggers, models, optim, runs, tasks, metrics"
    imported = _imported("-c", f"import sys; sys.path.insert(0, 'src'); import {packages}")
    assert {"torch", "lightning", "cli", "callbacks"} <= imported  # the report is read right
    assert not imported & OPTIONAL


def test_fit_help_imports_no_optional_package():
    assert not _imported("src/main.py", "fit", "--help") & OPTIONAL

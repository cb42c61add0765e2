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


def test_every_module_but_the_sweeps_imports_no_optional_package():
    """Every module of the engine (the sweeps need Optuna) and of the project's packages."""
    walk = (
        "import importlib, pkgutil, runforge, data_modules, models, tasks, metrics\n"
        "for package in (runforge, data_modules, models, tasks, metrics):\n"
        "    for info in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
        "        if not info.name.startswith('runforge.many.sweep'):\n"
        "            importlib.import_module(info.name)\n"
    )
    imported = _imported("-c", walk)
    assert {"torch", "lightning", "runforge", "data_modules"} <= imported  # read right
    assert not imported & OPTIONAL


def test_fit_help_imports_no_optional_package():
    assert not _imported("src/main.py", "fit", "--help") & OPTIONAL

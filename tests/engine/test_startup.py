"""Start-up stays lean: heavy optional packages are imported only by the features that use them."""

import subprocess
import sys

from helpers import ROOT, TINY, TOY

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


#: Runs a script; at its exit prints the `src/` files the process imported, one a line.
IMPORTED_FILES = (
    "import atexit, os, runpy, sys\n"
    "src = os.path.realpath('src')\n"
    "def report():\n"
    "    files = {os.path.realpath(m.__file__) for m in list(sys.modules.values())\n"
    "             if getattr(m, '__file__', None)}\n"
    "    print('\\n'.join('imported ' + f for f in files if f.startswith(src + os.sep)))\n"
    "atexit.register(report)\n"
    "sys.argv = sys.argv[1:]\n"
    "sys.path[0] = os.path.dirname(os.path.realpath(sys.argv[0]))\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def test_a_fit_imports_at_most_65_percent_of_src(tmp_path):
    """A run imports what its config names: no sweeps, folds' runner, predict files, ONNX."""
    fit = ["src/main.py", "fit", *TOY, *TINY, "--run.root", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "-c", IMPORTED_FILES, *fit], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    imported = [
        line.split(" ", 1)[1] for line in done.stdout.splitlines() if line.startswith("imported ")
    ]
    files = list((ROOT / "src").rglob("*.py"))
    assert str(ROOT / "src" / "main.py") in imported, "the report is read right"
    assert len(imported) <= 0.65 * len(files), f"{len(imported)} of {len(files)}"
    not_needed = ("many/", "onnx_export", "predict_files", "report_figures", "augment")
    assert not [f for f in imported if any(part in f for part in not_needed)]

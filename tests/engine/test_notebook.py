"""The example notebook runs top to bottom from the notebooks/ folder of a copy of the project."""

import json
import shutil
import subprocess
import sys

import pytest

from helpers import ROOT


@pytest.mark.slow
def test_quickstart_notebook_runs(tmp_path):
    project = tmp_path / "project"
    for folder in ("src", "configs", "notebooks"):
        shutil.copytree(
            ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    (project / ".project-root").touch()
    notebook = json.loads((project / "notebooks" / "quickstart.ipynb").read_text())
    source = "\n\n".join(
        "".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"
    )
    source += "\nprint('TEST_ACC', results[0]['test/acc'])\n"
    result = subprocess.run(
        [sys.executable, "-c", source],
        cwd=project / "notebooks",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    accuracy = float(result.stdout.split("TEST_ACC")[-1])
    assert accuracy > 0.8
    runs = list((project / "logs" / "notebook").iterdir())
    assert len(runs) == 1 and (runs[0] / "config.yaml").is_file()

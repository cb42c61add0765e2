"""The files around the code: CI script, Makefile, requirements, .gitignore, READMEs."""

import re
import shutil
import subprocess
import sys

import pytest
from packaging.requirements import Requirement

from helpers import ROOT, git


def _mini_project(tmp_path, test_source: str | None):
    """The project's Makefile, CI script and settings around a given test file (or none)."""
    for name in ("Makefile", ".ci/run", "requirements.txt", "requirements-dev.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "tests").mkdir()
    if test_source is not None:
        (tmp_path / "tests" / "test_example.py").write_text(test_source)
    # The installed stamp, newer than the requirements: `make` goes straight to pytest.
    (tmp_path / f".installed-{sys.executable.replace('/', '_')}").touch()
    return tmp_path


@pytest.mark.parametrize(
    ("test_source", "passes"),
    [
        ("def test_ok():\n    pass\n", True),
        ("def test_bad():\n    assert False\n", False),
        (None, False),
    ],
    ids=["passing", "failing", "empty"],
)
def test_ci_fails_unless_the_suite_runs_and_passes(tmp_path, test_source, passes):
    project = _mini_project(tmp_path, test_source)
    result = subprocess.run(
        ["bash", ".ci/run"], cwd=project, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "HOME": str(tmp_path)},
    )  # fmt: skip
    assert (result.returncode == 0) == passes, result.stdout[-2000:] + result.stderr[-2000:]


def test_gitignore_keeps_data_logs_secrets_and_the_venv_out(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    shutil.copy(ROOT / ".gitignore", tmp_path / ".gitignore")
    ignored = ["data/mnist.bin", "logs/default/run/config.yaml", ".env", ".venv/bin/python"]
    ignored += ["site/index.html"]  # `mkdocs build`
    kept = ["data/.gitkeep", "logs/.gitkeep", ".env.example", "src/main.py"]
    out = git(tmp_path, "check-ignore", "--no-index", *ignored, *kept)
    assert out.split() == ignored


def test_requirements_accept_the_local_torch_and_name_every_package():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    specs = {
        r.name: r.specifier
        for r in (Requirement(x.split("#")[0]) for x in lines if x and x[0] != "#")
    }
    assert "2.14.1" in specs["torch"] and "0.29.1" in specs["torchvision"]
    needed = {"torch", "torchvision", "lightning", "jsonargparse", "torchmetrics", "wandb"}
    needed |= {"pyrootutils", "python-dotenv", "tensorboard", "rich", "scikit-learn"}
    assert needed <= set(specs)


@pytest.mark.parametrize(
    "readme", ["README.md", "README_ZH.md", "docs/index.md", "docs/getting-started.md"]
)
def test_quick_start_is_make_train_and_make_test(readme):
    text = (ROOT / readme).read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines()]
    assert commands == ["make train", "make test"]

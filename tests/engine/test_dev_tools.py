"""The developer's toolbelt: make help, pre-commit and CI agree with the Makefile."""

import re
import subprocess
import sys

import pytest
import yaml
from packaging.requirements import Requirement

from helpers import ROOT, run_main


def _recipe(target: str) -> list[str]:
    """The commands of a Makefile target, `$(PY) -m ` and the trailing ` .` removed."""
    text = (ROOT / "Makefile").read_text()
    body = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.M).group(1)
    return [line.strip().replace("$(PY) -m ", "").removesuffix(" .") for line in body.splitlines()]


def _phony_targets() -> list[str]:
    text = (ROOT / "Makefile").read_text()
    return re.search(r"^\.PHONY: (.*)$", text, re.M).group(1).split()


def test_make_help_lists_every_target():
    out = subprocess.run(
        ["make", "--no-print-directory", "help", f"PYTHON={sys.executable}"],
        cwd=ROOT,
        capture_output=True,
        text=True,  # no make[1] lines when run under `make test`
    ).stdout
    listed = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert sorted(listed) == sorted(_phony_targets())
    assert all(len(line.split()) > 1 for line in out.splitlines() if line.strip()), out


def _hooks() -> dict[str, dict]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    return {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}


def test_pre_commit_config_is_valid_and_its_ruff_hooks_are_make_format():
    checked = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-config", ".pre-commit-config.yaml"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    hooks = _hooks()
    assert {"nbstripout", "end-of-file-fixer", "check-added-large-files"} <= set(hooks)
    ruff = [hooks[name] for name in ("ruff-format", "ruff-check")]
    commands = [" ".join([hook["entry"], *hook.get("args", [])]) for hook in ruff]
    assert commands == _recipe("format") == ["ruff format", "ruff check --fix"]
    dev = (ROOT / "requirements-dev.txt").read_text().splitlines()
    ruff_spec = next(Requirement(line) for line in dev if line.startswith("ruff"))
    for hook in ruff:
        assert [Requirement(d) for d in hook["additional_dependencies"]] == [ruff_spec]


def test_ci_workflow_runs_make_lint_and_the_readme_test_command():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as True
    assert {"push", "pull_request"} <= set(triggers)
    (job,) = workflow["jobs"].values()
    assert job["runs-on"].startswith("ubuntu")
    assert job["strategy"]["matrix"]["python-version"] == ["3.10", "3.14"]
    setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["cache"] == "pip"
    assert setup["with"]["python-version"] == "${{ matrix.python-version }}"
    torch, generated_torch, *runs = [step["run"] for step in job["steps"] if "run" in step]
    assert runs == ["make lint", "bash .ci/run"]
    # The project that .ci/run generates gets its CPU-only torch the same way, in the template.
    (test_step,) = [step for step in job["steps"] if step.get("run") == "bash .ci/run"]
    generated = test_step["env"]["GENERATED_PROJECT"].replace("${{ github.workspace }}/", "")
    assert generated_torch.startswith(f"python -m venv {generated}/.venv && {generated}/.venv/")
    assert generated_torch.split("pip install", 1)[1] == torch.split("pip install", 1)[1]
    # CPU-only torch into the Makefile's .venv, in its own step; no index for anything else.
    assert torch.startswith("python -m venv .venv && .venv/bin/python -m pip install torch ")
    assert "--index-url" in torch and "requirements" not in torch
    assert "INDEX_URL" not in (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    # .ci/run ends in the README's test command, `make test`.
    assert "\nmake test\n" in (ROOT / ".ci" / "run").read_text()
    assert {"lint", "test"} <= set(_phony_targets())
    readme = (ROOT / "README.md").read_text()
    assert "make test" in re.search(r"```bash\n(.*?)```", readme, re.S).group(1)


@pytest.mark.slow
def test_the_cli_prints_a_bash_completion_script_that_completes_options(tmp_path):
    script = tmp_path / "main.py.bash"
    done = run_main("--print_completion", "shtab-bash")
    assert done.returncode == 0, done.stderr[-2000:]
    script.write_text(done.stdout)
    line = "main.py fit --trainer.max_ep"
    shell = (
        f"source {script} && complete -p main.py && COMP_WORDS=({line}) && COMP_CWORD=2"
        f" && COMP_LINE='{line}' && COMP_POINT={len(line)}"
        ' && _shtab_main_py main.py --trainer.max_ep fit && echo "${COMPREPLY[@]}"'
    )
    completed = subprocess.run(["bash", "-c", shell], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    registered, offered = completed.stdout.splitlines()
    assert registered.endswith(" main.py")
    assert offered == "--trainer.max_epochs"

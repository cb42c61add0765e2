"""The generator (copier.yml), with the real copier and real git tags in temporary folders:
`copier copy` writes a project, `copier update` brings a newer template version into it."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import GIT_IDENTITY, ROOT, git

EXAMPLES = ["mnist", "image_folder", "autoencoder"]
#: The answers under which every `*.jinja` file renders to the runnable file beside it.
TEMPLATE_ITSELF = {
    "project_name": "Lightning Template",
    "project_slug": "lightning-template",
    "description": "A PyTorch Lightning project template driven by LightningCLI",
    "author": "",
    "examples": EXAMPLES,
}
#: `*.jinja` files without a runnable twin: files that only a generated project has.
PROJECT_ONLY = {
    "README.md.jinja",  # the project's README (the template's own README.md is its front page)
    "{{_copier_conf.answers_file}}.jinja",
    ".github/workflows/template-sync.yml.jinja",
}
#: The template's own files, which a generated project never has.
TEMPLATE_ONLY = ["copier.yml", "README_ZH.md", "benchmarks", "tests/engine", "tests/template"]
ENV = {**os.environ, **GIT_IDENTITY, "PYTHONWARNINGS": "ignore"}


def copier(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run the real copier CLI non-interactively; fail the test on a non-zero exit."""
    done = subprocess.run(
        [sys.executable, "-m", "copier", *args, "--defaults", "--trust", "--quiet"],
        cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done


def data(answers: dict) -> list[str]:
    """`--data key=value` arguments (a list in JSON, which copier reads as YAML)."""
    return [
        f"--data={key}={v if isinstance(v, str) else json.dumps(v)}" for key, v in answers.items()
    ]


def tracked_tree(destination: Path) -> Path:
    """The template as it is now (tracked and new files, not ignored ones) in a fresh repo."""
    listed = git(ROOT, "ls-files", "-co", "--exclude-standard", "-z").split("\0")
    destination.mkdir(parents=True)
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():  # a file deleted but not yet staged is still listed
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            (destination / name).write_bytes(source.read_bytes())
            (destination / name).chmod(source.stat().st_mode)
    git(destination, "init", "-q")
    git(destination, "add", "-A")
    subprocess.run(["git", "commit", "-qm", "v1"], cwd=destination, env=ENV, check=True)
    git(destination, "tag", "v1")
    return destination


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """This template as a git repository tagged v1."""
    return tracked_tree(tmp_path_factory.mktemp("template") / "lightning-template")


def generate(template: Path, destination: Path, *args: str) -> Path:
    """`copier copy --vcs-ref v1` of the template into `destination`."""
    copier("copy", "--vcs-ref", "v1", *args, str(template), str(destination))
    return destination


def lint(project: Path) -> None:
    """The generated project passes its own `make lint` (ruff format --check, ruff check)."""
    for command in (["format", "--check", "."], ["check", "."]):
        done = subprocess.run([sys.executable, "-m", "ruff", *command], cwd=project,
                              capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:]


def test_each_jinja_file_renders_to_the_runnable_file_beside_it(template, tmp_path):
    project = generate(template, tmp_path / "itself", "--skip-tasks", *data(TEMPLATE_ITSELF))
    jinja = {str(p.relative_to(template)) for p in template.rglob("*.jinja")}
    assert PROJECT_ONLY <= jinja
    twins = sorted(jinja - PROJECT_ONLY)
    assert twins, "pyproject.toml and the researcher's package exports are templated"
    for name in twins:
        runnable = name.removesuffix(".jinja")
        assert (template / runnable).is_file(), f"{name} has no runnable twin"
        assert (project / runnable).read_text() == (template / runnable).read_text(), name


def test_a_new_project_is_a_repository_with_the_project_readme_and_no_template_files(
    template, tmp_path
):
    project = generate(template, tmp_path / "new", "--data=project_name=Bird Songs")
    assert not [name for name in TEMPLATE_ONLY if (project / name).exists()]
    assert not list(project.rglob("*.jinja"))
    readme = (project / "README.md").read_text()
    assert readme.startswith('<div align="center">\n\n# Bird Songs\n')
    assert "make train" in readme and "make test" in readme and "copier update" in readme
    links = re.findall(r"\]\(([^)#:]+)\)", readme)
    assert links and not [link for link in links if not (project / link).exists()]
    assert 'name = "bird-songs"' in (project / "pyproject.toml").read_text()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v1" and answers["examples"] == EXAMPLES
    assert git(project, "log", "--format=%s") == "New project from the Lightning template v1"
    assert git(project, "status", "--porcelain") == "", "everything generated is committed"
    for name in ("src/runforge/cli/cli.py", "src/data_modules/mnist.py", "configs/default.yaml"):
        assert (project / name).read_bytes() == (template / name).read_bytes(), name
    sync = yaml.safe_load((project / ".github" / "workflows" / "template-sync.yml").read_text())
    assert "schedule" in sync.get("on", sync.get(True))  # YAML 1.1 reads the key `on` as True
    (steps,) = [job["steps"] for job in sync["jobs"].values()]
    assert any("copier update --defaults --trust" in step.get("run", "") for step in steps)
    assert any(step.get("uses", "").startswith("peter-evans/create-pull-request") for step in steps)
    lint(project)


def test_digits_alone_leaves_the_other_examples_and_their_tests_out(template, tmp_path):
    project = generate(template, tmp_path / "digits", "--skip-tasks", "--data=examples=[]")
    for name in ("src/data_modules/mnist.py", "configs/data/mnist.yaml",
                 "configs/experiment/mnist_fast.yaml", "configs/data/image_folder.yaml",
                 "src/models/autoencoder.py", "src/tasks/image_reconstructor.py",
                 "configs/model/autoencoder.yaml", "tests/example/test_mnist.py",
                 "tests/example/test_image_folder_recipe.py",
                 "tests/example/test_reconstructor.py",
                 "tests/example/test_mnist_autoencoder.py"):  # fmt: skip
        assert not (project / name).exists(), name
    assert (project / "src/data_modules/digits.py").is_file()
    assert (project / "configs/experiment/digits_simplenet.yaml").is_file()
    assert "MNIST" not in (project / "src/data_modules/__init__.py").read_text()
    assert "lazy_exports" not in (project / "src/tasks/__init__.py").read_text()
    lint(project)
    imported = subprocess.run(
        [sys.executable, "-c", "import data_modules, models, tasks; print(data_modules.__all__,"
         " models.__all__, tasks.__doc__.splitlines()[0])"],
        cwd=project, env={**ENV, "PYTHONPATH": str(project / "src")},
        capture_output=True, text=True,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert imported.stdout.startswith("['DigitsDataModule'] ['SimpleNet'] Your LightningModules")


@pytest.mark.slow
def test_the_digits_alone_project_passes_its_own_tests(template, tmp_path):
    project = generate(template, tmp_path / "digits", "--skip-tasks", "--data=examples=[]")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project, env={**ENV, "PYTHONPATH": str(project / "src")},
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout


# --- copier update: a v2 of the template, a project with a researcher's edits --------------

#: What the researcher changed in their project: their network, a data config, their README.
EDITS = {
    "src/models/simplenet.py": "\n\n# The researcher's note on their network.\n",
    "configs/data/digits.yaml": "\n# The researcher's note on their data.\n",
    "README.md": "\n## Our results\n\nTest accuracy 0.98 on digits.\n",
}
#: An example recipe the researcher deleted (and the template's v2 changed): it stays deleted.
DELETED = "configs/model/simplenet_warmup_cosine.yaml"


@pytest.fixture(scope="module")
def two_versions(template, tmp_path_factory) -> Path:
    """A copy of the template repository with a v2: an engine change, a new preset, and the
    template's own change to the example files that the researcher edits or deletes."""
    repo = tmp_path_factory.mktemp("two-versions") / "lightning-template"
    git(template.parent, "clone", "-q", str(template), str(repo))
    init = repo / "src" / "runforge" / "__init__.py"
    init.write_text(init.read_text() + '\nRELEASE_NOTE = "an engine fix of v2"\n')
    (repo / "configs" / "trainer" / "v2_preset.yaml").write_text(
        "# A preset that v2 adds.\ntrainer:\n  gradient_clip_val: 1.0\n"
    )
    for name in [*EDITS, DELETED]:
        path = repo / name
        path.write_text(path.read_text() + "\n# The template's v2 changed this example.\n")
    git(repo, "add", "-A")
    subprocess.run(["git", "commit", "-qm", "v2"], cwd=repo, env=ENV, check=True)
    git(repo, "tag", "v2")
    return repo


def edit_and_commit(project: Path) -> dict[str, str]:
    """Make the researcher's edits and deletion, commit them, and return the files' contents."""
    for name, addition in EDITS.items():
        path = project / name
        path.write_text(path.read_text() + addition)
    (project / DELETED).unlink()
    git(project, "add", "-A")
    subprocess.run(["git", "commit", "-qm", "Our work"], cwd=project, env=ENV, check=True)
    return {name: (project / name).read_text() for name in EDITS}


def assert_updated_to_v2(project: Path, edited: dict[str, str]) -> None:
    """The engine change and the preset arrived; every edit is intact; nothing conflicts."""
    assert (
        'RELEASE_NOTE = "an engine fix of v2"'
        in (project / "src" / "runforge" / "__init__.py").read_text()
    )
    assert (project / "configs" / "trainer" / "v2_preset.yaml").is_file()
    for name, content in edited.items():
        assert (project / name).read_text() == content, f"the update changed {name}"
    assert not (project / DELETED).exists(), "a deleted example stays deleted"
    assert not list(project.rglob("*.rej")), "no rejected hunks"
    git(project, "add", "-A")  # what the update changed, new files too, against the last commit
    check = subprocess.run(["git", "diff", "--staged", "--check"], cwd=project,
                           capture_output=True, text=True)  # fmt: skip
    assert "conflict marker" not in check.stdout, check.stdout
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "v2"


def make_train(project: Path) -> None:
    """The project's `make train`, in this interpreter (installed: the stamp is newer)."""
    (project / f".installed-{sys.executable.replace('/', '_')}").touch()
    done = subprocess.run(
        ["make", "train", f"PYTHON={sys.executable}"],
        cwd=project, env={**ENV, "PYTHONPATH": str(project / "src")},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert list((project / "logs").glob("default/*/test_metrics.json"))


@pytest.mark.slow
def test_update_brings_the_engine_and_presets_and_keeps_the_researchers_edits(
    two_versions, tmp_path
):
    project = generate(two_versions, tmp_path / "project")
    edited = edit_and_commit(project)
    copier("update", cwd=project)
    assert_updated_to_v2(project, edited)
    make_train(project)


@pytest.mark.slow
def test_a_clone_of_the_template_adopts_the_generator_and_updates(two_versions, tmp_path):
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--branch", "v1", str(two_versions), str(clone))
    git(clone, "rm", "-q", "README.md")  # the template's front page: the project's comes instead
    copier("copy", "--vcs-ref", "v1", "--overwrite", str(two_versions), ".", cwd=clone)
    assert (
        (clone / "README.md")
        .read_text()
        .startswith('<div align="center">\n\n# My Lightning Project\n')
    )
    assert git(clone, "log", "--format=%s") == "v1", "the clone's history is left as it was"
    assert (clone / ".copier-answers.yml").is_file()
    git(clone, "checkout", "-q", "-b", "main")
    git(clone, "add", "-A")
    subprocess.run(["git", "commit", "-qm", "Adopt the generator"], cwd=clone, env=ENV,
                   check=True)  # fmt: skip
    edited = edit_and_commit(clone)
    copier("update", cwd=clone)
    assert_updated_to_v2(clone, edited)

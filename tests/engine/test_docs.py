"""The docs: the mkdocs site builds strictly, every relative link resolves, the READMEs stay short.

The reference lives in `docs/` (mkdocs-material, a development requirement); README.md is
the front page and README_ZH.md its Chinese twin. Every flag and config file the template
adds is documented there, and the LightningModule example of the docs trains.
"""

import dataclasses
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import mkdocs  # noqa: F401  (a development requirement: fail here, never skip, without it)
import pytest
import yaml

from helpers import ROOT, TINY, only_run_dir, read_json, run_cli
from runforge.cli.parser import Flags
from runforge.runs.directory import RunDirectory

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
READMES = [ROOT / "README.md", ROOT / "README_ZH.md"]
#: `[text](target)`; images too. Targets with a scheme (https:, mailto:) are not files.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _prose(text: str) -> str:
    """The Markdown without fenced code blocks and inline code (links there are no links)."""
    text = re.sub(r"^(```|~~~).*?^\1\s*$", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it (mkdocs' strict build checks its own)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = unicodedata.normalize("NFC", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    headings = re.findall(r"^#{1,6} +(.+?) *#*$", _prose_keep_headings(page.read_text()), re.M)
    return {_slug(h) for h in headings}


def _prose_keep_headings(text: str) -> str:
    """The Markdown without fenced code blocks (a `# comment` in bash is no heading)."""
    return re.sub(r"^(```|~~~).*?^\1\s*$", "", text, flags=re.S | re.M)


def _links(page: Path) -> list[str]:
    return [t for t in LINK.findall(_prose(page.read_text())) if not re.match(r"\w+:", t)]


def _docs_text() -> str:
    return "\n".join(page.read_text() for page in PAGES)


def test_the_site_builds_with_mkdocs_strict_and_the_nav_lists_every_page(tmp_path):
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["strict"] is True and config["theme"]["name"] == "material"
    assert config["validation"]["anchors"] == "warn", "a missing anchor fails the build"

    def pages(nav):
        for item in nav:
            for value in item.values() if isinstance(item, dict) else [item]:
                yield from pages(value) if isinstance(value, list) else [value]

    assert sorted(pages(config["nav"])) == [page.name for page in PAGES]
    site = tmp_path / "site"
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert "WARNING" not in built.stderr, built.stderr[-3000:]
    for page in PAGES:
        html = site / ("index.html" if page.stem == "index" else f"{page.stem}/index.html")
        assert html.is_file(), html


@pytest.mark.parametrize("page", [*READMES, *PAGES], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file_and_its_anchor(page):
    for link in _links(page):
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{page.name}: {link} -> {target} does not exist"
        if anchor and target.suffix == ".md":
            assert anchor in _anchors(target), f"{page.name}: {link}: no heading #{anchor}"


def test_the_readmes_are_a_front_page_and_link_every_docs_page():
    english, chinese = (readme.read_text().splitlines() for readme in READMES)
    assert len(english) <= 250, "README.md is the front page; the reference goes in docs/"
    assert abs(len(chinese) - len(english)) <= 0.15 * len(english), (len(chinese), len(english))
    linked = [
        {(readme.parent / link.partition("#")[0]).resolve() for link in _links(readme)}
        for readme in READMES
    ]
    english_docs, chinese_docs = ({p for p in links if DOCS in p.parents} for links in linked)
    assert english_docs == chinese_docs, "README_ZH.md links the same docs pages as README.md"
    assert set(PAGES) <= english_docs, "the README maps every docs page"
    for command in ("mkdocs serve", "mkdocs build --strict"):
        assert all(command in readme.read_text() for readme in READMES), command


def _yaml_value(value) -> str:
    """A default as the docs' tables write it (YAML)."""
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("\n...")


def test_every_flag_the_template_adds_is_documented_with_its_default():
    table = (DOCS / "configuration.md").read_text() + (DOCS / "run-directory.md").read_text()
    documented = dict(re.findall(r"^\| `--([\w.]+)` \| `([^`]*)` \|", table, re.M))
    flags = [(f.name, f) for f in dataclasses.fields(Flags)]
    flags += [(f"run.{f.name}", f) for f in dataclasses.fields(RunDirectory)]
    for name, field in flags:
        default = field.default_factory() if callable(field.default_factory) else field.default
        assert name in documented, f"--{name} is not in a flags table of docs/"
        assert documented[name] == _yaml_value(default), name
    seed = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text())["seed_everything"]
    assert documented["seed_everything"] == str(seed)


def test_every_config_file_script_and_make_target_is_documented():
    text = _docs_text()
    for path in sorted((ROOT / "configs").rglob("*.yaml")):
        relative = path.relative_to(ROOT / "configs").as_posix()
        assert relative in text, f"configs/{relative} is not documented in docs/"
    for script in [*(ROOT / "scripts").glob("*.py"), *(ROOT / "scripts" / "slurm").glob("*")]:
        assert str(script.relative_to(ROOT)) in text, f"{script} is not documented in docs/"
    for entry in ("src/main.py", "src/sweep.py", "src/kfold.py", "src/compare.py"):
        assert entry in text, entry
    makefile = (ROOT / "Makefile").read_text()
    targets = re.search(r"^\.PHONY: (.*)$", makefile, re.M).group(1).split()
    for target in targets:
        assert f"`make {target}" in text, f"make {target} is not documented in docs/"


def _code_block(page: Path, language: str, containing: str) -> str:
    blocks = re.findall(rf"^```{language}\n(.*?)^```", page.read_text(), re.S | re.M)
    [block] = [b for b in blocks if containing in b]
    return block


def test_the_documented_lightningmodule_trains_tests_and_predicts(tmp_path, monkeypatch):
    page = DOCS / "own-lightningmodule.md"
    (tmp_path / "my_module.py").write_text(_code_block(page, "python", "class MyClassifier"))
    recipe = tmp_path / "my_module.yaml"
    recipe.write_text(_code_block(page, "yaml", "my_module.MyClassifier"))
    monkeypatch.syspath_prepend(str(tmp_path))
    logs = tmp_path / "logs"
    common = ["--run.root", str(logs), "--trainer.enable_progress_bar", "false"]
    run_cli("fit", "-c", "tests/configs/toy_data.yaml", "-c", str(recipe), *common, *TINY,
            "--test_after_fit", "true")  # fmt: skip
    run = only_run_dir(logs)
    checkpoints = sorted(p.name for p in (run / "checkpoints").glob("*.ckpt"))
    assert len(checkpoints) == 2 and "last.ckpt" in checkpoints
    assert re.fullmatch(r"epoch000-val_acc[\d.]+\.ckpt", checkpoints[0]), checkpoints
    assert {"test/acc", "test/loss"} <= set(read_json(run / "test_metrics.json"))
    assert (run / "curves.png").is_file() and (run / "confusion_matrix.png").is_file()
    header = (run / "curves.csv").read_text().splitlines()[0]
    assert header == "epoch,train/acc,train/loss,val/acc,val/loss"
    run_cli("predict", "-c", str(run / "config.yaml"), "--ckpt_path", "best", *common,
            "--trainer.limit_predict_batches", "1")  # fmt: skip
    header = (run / "predictions.csv").read_text().splitlines()[0]
    assert header == "index,label,label_name,pred,pred_name,prob"

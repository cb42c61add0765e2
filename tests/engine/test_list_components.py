"""scripts/list_components.py: the shipped configs and the classes of every slot, found in src/."""

import importlib.util
import re
import subprocess
import sys

from helpers import ROOT, components


def _script():
    spec = importlib.util.spec_from_file_location(
        "list_components", ROOT / "scripts" / "list_components.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sections(out: str) -> dict[str, list[str]]:
    """Section title -> the first word of each row (a config path or a class path)."""
    sections = {}
    for block in out.strip().split("\n\n"):
        title, *rows = block.splitlines()
        sections[title.split(":")[0]] = [row.split()[0] for row in rows]
    return sections


def test_lists_every_config_with_its_comment_and_the_classes_of_each_slot():
    planned = subprocess.run(
        ["make", "-n", "components", f"PYTHON={sys.executable}"],
        cwd=ROOT, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert f"{sys.executable} scripts/list_components.py" in planned
    out = components()
    sections = _sections(out)
    shipped = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "configs").rglob("*.yaml"))
    assert sections["configs (add with -c)"] == shipped
    overfit = (ROOT / "configs" / "debug" / "overfit.yaml").read_text().splitlines()[0]
    assert re.search(r"configs/debug/overfit.yaml +" + re.escape(overfit[2:40]), out)
    assert "runforge.data.ImageFolderDataModule" in sections["data"]
    assert "runforge.tasks.ImageClassifier" in sections["model"]
    assert not [n for n in sections.get("net", []) if n.startswith("runforge.")], "no engine net"
    assert "runforge.callbacks.LRCurve" in sections["callbacks"]
    assert "runforge.loggers.CSVLogger" in sections["loggers"]
    assert "runforge.optim.WarmupSchedule" in sections["lr_scheduler"]
    assert "Trains `net` to classify images" in out, "each class with its docstring's first line"


def test_a_new_class_is_listed_in_its_slot(tmp_path, monkeypatch):
    package = tmp_path / "my_components"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "parts.py").write_text(
        "from lightning.pytorch import Callback, LightningDataModule\n"
        "from torch import nn\n\n"
        "class Beep(Callback):\n    '''Beeps at the end of each epoch.\n\n    More.'''\n\n"
        "class Tiny(nn.Module):\n    '''A tiny network.'''\n\n"
        "class Faces(LightningDataModule):\n    pass\n\n"
        "class _Hidden(Callback):\n    '''Private.'''\n\n"
        "class Plain:\n    '''Fits no slot.'''\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    found = {slot.split(":")[0]: rows for slot, rows in _script().discover(tmp_path).items()}
    # Tiny is an nn.Module outside models/: a network all the same.
    assert found == {
        "data": [("my_components.parts.Faces", "(undocumented)")],
        "net": [("my_components.parts.Tiny", "A tiny network.")],
        "callbacks": [("my_components.parts.Beep", "Beeps at the end of each epoch.")],
    }

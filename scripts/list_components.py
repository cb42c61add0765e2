"""List what a config can name: the shipped config files and the classes for each slot.

Classes are found by walking the packages in `src/` and sorting each public class by what it
subclasses; configs are `configs/**/*.yaml` with the first sentence of each one's comment. Add a
class or a config and it is listed, with the first line of its docstring or comment.

    python scripts/list_components.py       # or: make components
"""

import importlib
import inspect
import pkgutil
from pathlib import Path

# Same bootstrap as src/main.py: the project root as working directory, `.env` loaded.
from runforge.bootstrap import setup_project

ROOT = setup_project(__file__)
#: The slot of the networks: plain `nn.Module`s of the project (any of its packages).
NET = "net: torch.nn.Module (--model.net, also torchvision.models.*)"
#: The engine's package: its classes are listed in every slot but the networks'.
ENGINE = "runforge"


def _slots() -> list[tuple[str, type | tuple[type, ...]]]:
    """(slot, base class) in matching order: the first base a class subclasses is its slot."""
    from lightning.pytorch import Callback, LightningDataModule, LightningModule
    from lightning.pytorch.loggers import Logger
    from torch import nn
    from torch.optim.lr_scheduler import LRScheduler
    from torchmetrics import Metric

    from runforge.optim.schedules import RunSchedule

    return [
        ("data: LightningDataModule (--data)", LightningDataModule),
        ("model: LightningModule (--model)", LightningModule),
        ("metrics: torchmetrics.Metric", Metric),
        (NET, nn.Module),
        ("callbacks: Callback (--trainer.callbacks, also lightning.pytorch.callbacks.*)", Callback),
        ("loggers: Logger (--trainer.logger, also lightning.pytorch.loggers.*)", Logger),
        (
            "lr_scheduler: LRScheduler or whole-run schedule (--model.lr_scheduler)",
            (LRScheduler, RunSchedule),
        ),
    ]


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0].strip() if lines else "(undocumented)"


def _short_path(cls: type) -> str:
    """`package.Class` from the nearest package that exports the class (as configs name it)."""
    parts = cls.__module__.split(".")
    for end in range(len(parts) - 1, 0, -1):
        package = importlib.import_module(".".join(parts[:end]))
        if getattr(package, cls.__name__, None) is cls:
            return f"{package.__name__}.{cls.__name__}"
    return f"{cls.__module__}.{cls.__name__}"


def discover(src: Path) -> dict[str, list[tuple[str, str]]]:
    """Each slot's classes defined in the packages under `src`: (class path, first doc line)."""
    slots = _slots()
    found: dict[str, dict[str, str]] = {slot: {} for slot, _ in slots}
    for top in pkgutil.iter_modules([str(src)]):
        if not top.ispkg:
            continue  # main.py, runforge/cli/cli.py: entry points, not components
        package = importlib.import_module(top.name)
        names = [top.name] + [
            info.name for info in pkgutil.walk_packages(package.__path__, f"{top.name}.")
        ]
        for module in map(importlib.import_module, names):
            for name, cls in inspect.getmembers(module, inspect.isclass):
                if name.startswith("_") or cls.__module__ != module.__name__:
                    continue
                slot = next((slot for slot, base in slots if issubclass(cls, base)), None)
                if slot == NET and top.name == ENGINE:
                    continue  # the engine's modules serve its callbacks and tasks
                if slot is not None:
                    found[slot][_short_path(cls)] = _first_line(cls.__doc__)
    return {slot: sorted(classes.items()) for slot, classes in found.items() if classes}


def _first_sentence(comment: list[str], limit: int = 100) -> str:
    """The first sentence of a comment block, cut at a word near `limit` characters."""
    words = []
    for line in (line.lstrip("#").strip() for line in comment):
        words.append(line)
        if line.endswith((".", ":")):  # a sentence, or the lead-in to an example, ends here
            break
    sentence = " ".join(words).split(". ")[0].rstrip(".:")
    if len(sentence) > limit:
        sentence = sentence[:limit].rsplit(" ", 1)[0] + " ..."
    return sentence or "(no comment)"


def configs(root: Path) -> list[tuple[str, str]]:
    """Every YAML under `root/configs` with the first sentence of its leading comment."""
    listed = []
    for path in sorted((root / "configs").rglob("*.yaml")):
        lines = path.read_text().splitlines()
        end = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
        listed.append((str(path.relative_to(root)), _first_sentence(lines[:end])))
    return listed


def _table(title: str, rows: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    return "\n".join([title, *(f"  {name:<{width}}  {doc}" for name, doc in rows)])


def main() -> None:
    """Print the configs, then the classes of each slot."""
    sections = [_table("configs (add with -c):", configs(ROOT))]
    sections += [_table(f"{slot}:", rows) for slot, rows in discover(ROOT / "src").items()]
    print("\n\n".join(sections))


if __name__ == "__main__":
    main()

"""The CLI's argument parser (errors in one line, loud links from the data module) and flags."""

import os
import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

from jsonargparse import Namespace, set_parsing_settings
from lightning.pytorch.cli import LightningArgumentParser

from runforge.compat import without_links
from runforge.errors import ConfigError

# `python src/main.py --print_completion shtab-bash` prints a shell completion script (shtab).
set_parsing_settings(add_print_completion_argument=True)
# jsonargparse 4.53 warns (and 5.0 will refuse) when a value names an import path of its
# denylist (`os.system`, `builtins.exec`, ...). Such a class path never reaches a build here:
# `runforge.cli.class_paths` refuses it, in one line naming its slot, before anything is built.
warnings.filterwarnings("ignore", message=r"\s*Importing '[^']+' is not allowed, denied by")

#: Lines of jsonargparse's nested messages that only describe the alternatives it tried.
_GENERIC = (
    "Does not validate against any of the Union subtypes",
    "Subtypes:",
    "Errors:",
    "Given value type:",
    "Given value: Namespace(",
    "Given value: NestedArg(",
    "Expected a <class 'NoneType'>",
    "Type typing.",
)


#: jsonargparse's words for a class path that is not a subclass of its slot's base.
_NOT_A_SUBCLASS = re.compile(r"Import path (\S+) does not correspond to a subclass of (\w+)")
_PARSER_KEY = re.compile(r'Parser key "([^"]+)"')


def _wrong_slot(message: str) -> str | None:
    """The one line for a class path outside its slot's base."""
    found = _NOT_A_SUBCLASS.findall(message)
    if not found:
        return None
    key = ".init_args.".join(_PARSER_KEY.findall(message)) or "a class path"
    bases = list(dict.fromkeys(base for _, base in found))
    named = bases[0] if len(bases) == 1 else f"{', '.join(bases[:-1])} or {bases[-1]}"
    return (
        f"{key}: {found[0][0]} is not a subclass of {named}; name one that is "
        "(`make components` lists them)"
    )


def summarize(message: str) -> str:
    """The specific reasons in a nested jsonargparse message, on one line."""
    wrong_slot = _wrong_slot(message)
    if wrong_slot is not None:
        return wrong_slot
    lines = (line.strip().removeprefix("- ") for line in message.splitlines())
    reasons = [line for line in lines if line and not line.startswith(_GENERIC)]
    return "; ".join(dict.fromkeys(reasons)).replace(":; ", ": ") or message


def _debugging() -> bool:
    """Jsonargparse's debug mode, in which parse errors raise instead of exiting."""
    return os.environ.get("JSONARGPARSE_DEBUG", "").lower() in {"1", "true", "yes", "on"}


class DataAttribute:
    """Reads one attribute of the built data module for a link; a ConfigError if it is missing.

    jsonargparse's own `data.<attribute>` link skips a data module without the attribute
    silently, and the network is built with its default instead.
    """

    def __init__(self, attribute: str, target: str) -> None:
        self.attribute, self.target = attribute, target
        self.__name__ = f"{attribute}_of"  # `--help` shows the link as `num_classes_of(data)`

    def __call__(self, data: Any) -> Any:
        """The data module's value of the attribute."""
        if not hasattr(data, self.attribute):
            raise ConfigError(
                f"data.{self.attribute}: {type(data).__name__} does not set `{self.attribute}`, "
                f"which the configured {self.target} takes; set it in the data module "
                "(a class attribute, or in __init__)"
            )
        return getattr(data, self.attribute)


class Parser(LightningArgumentParser):
    """LightningArgumentParser that reports a bad option, value or file in one line.

    The message names the key or file, the value given and the reason, points to `--help`,
    and the process exits with code 2 (argparse's usage listing is left out: for `fit`
    it is some fifty lines that hide the error).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._data_links: list[DataAttribute] = []

    def link_data_attribute(self, attribute: str, target: str) -> None:
        """Pass the data module's `attribute` to `target` when the classes are built.

        A target that the configured class does not take is skipped (`input_shape` for
        torchvision's `resnet18`); one it takes, from a data module without the attribute,
        is a ConfigError naming `data.<attribute>` before anything runs.
        """
        link = DataAttribute(attribute, target)
        self.link_arguments("data", target, compute_fn=link, apply_on="instantiate")
        self._data_links.append(link)

    def instantiate(self, namespace: Namespace, *args: Any, **kwargs: Any) -> Namespace:
        """Build the classes, linking the data's attributes into the targets the classes take.

        jsonargparse would skip a link whose target the configured class lacks, but still
        record its value, which Lightning then adds to the task's hyperparameters (and
        `load_from_checkpoint` refuses); so those links are left out for this call. A link's
        ConfigError is raised as it is, not wrapped.
        """

        def applies(link: Any) -> bool:
            return link.compute_fn not in self._data_links or link.target[0] in namespace

        with without_links(self, keep=applies):  # the next command may configure others
            try:
                return super().instantiate(namespace, *args, **kwargs)
            except ValueError as error:
                if isinstance(error.__cause__, ConfigError):
                    raise error.__cause__ from None
                raise

    def add_function_arguments(
        self, function: Callable, *args: Any, linked_targets: set[str] | None = None, **kwargs: Any
    ) -> list[str]:
        """Add a function's parameters: a factory as `class_path`, e.g. torchvision's `resnet18`.

        jsonargparse hands the link targets inside a class_path to this method as it does to
        `add_class_arguments`, but only that one accepts them ("unexpected keyword argument
        'linked_targets'"). They only make linked parameters optional, which jsonargparse
        does again after this call, so they are dropped here.
        """
        return super().add_function_arguments(function, *args, **kwargs)

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        """Print `error: <message>` and exit 2; raise instead where jsonargparse expects it."""
        if not self.exit_on_error or _debugging():
            super().error(message, ex)
        parser = getattr(ex, "subcommand_parser", None) or self
        sys.stderr.write(f"error: {summarize(message)}\n")
        prog = parser.prog.replace(" [options]", "")
        sys.stderr.write(f"  (`{prog} --help` lists every option)\n")
        sys.exit(2)


@dataclass
class Flags:
    """The template's own top-level flags.

    Every subcommand accepts them, so a fit's `config.yaml` also drives `test` and
    `predict`; the fit-only flags do nothing there.

    Args:
        ignore_warnings: Silence Python warnings.
        git_commit_before_fit: fit: first commit modified and new (not gitignored) files,
            naming the run.
        test_after_fit: fit: afterwards test the best checkpoint and write test_metrics.json.
        float32_matmul_precision: torch.set_float32_matmul_precision before training;
            high allows TF32.
        drop_callbacks: Leave out these callbacks of trainer.callbacks, by class name or
            class path (e.g. [TestReport, ProgressBar]).
    """

    ignore_warnings: bool = False
    git_commit_before_fit: bool = False
    test_after_fit: bool = False
    float32_matmul_precision: Literal["highest", "high", "medium"] = "high"
    drop_callbacks: list[str] = field(default_factory=list)

"""The CLI's argument parser: errors as one short message instead of a usage dump."""

import os
import sys
from typing import NoReturn

from lightning.pytorch.cli import LightningArgumentParser

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


def summarize(message: str) -> str:
    """The specific reasons in a nested jsonargparse message, on one line."""
    lines = (line.strip().removeprefix("- ") for line in message.splitlines())
    reasons = [line for line in lines if line and not line.startswith(_GENERIC)]
    return "; ".join(dict.fromkeys(reasons)).replace(":; ", ": ") or message


def _debugging() -> bool:
    """Jsonargparse's debug mode, in which parse errors raise instead of exiting."""
    return os.environ.get("JSONARGPARSE_DEBUG", "").lower() in {"1", "true", "yes", "on"}


class Parser(LightningArgumentParser):
    """LightningArgumentParser that reports a bad option, value or file in one line.

    The message names the key or file, the value given and the reason, points to `--help`,
    and the process exits with code 2 (argparse's usage listing is left out: for `fit`
    it is some fifty lines that hide the error).
    """

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        """Print `error: <message>` and exit 2; raise instead where jsonargparse expects it."""
        if not self.exit_on_error or _debugging():
            super().error(message, ex)
        parser = getattr(ex, "subcommand_parser", None) or self
        sys.stderr.write(f"error: {summarize(message)}\n")
        prog = parser.prog.replace(" [options]", "")
        sys.stderr.write(f"  (`{prog} --help` lists every option)\n")
        sys.exit(2)

"""Config files (`-c FILE`) checked before parsing: readable UTF-8 YAML mappings, one line if not.

jsonargparse reports an empty file or a list without naming the file, and a file that is not
UTF-8 as a traceback; a key given twice silently keeps the last value (here: a warning).
"""

import warnings
from collections.abc import Iterator
from pathlib import Path

import yaml

from runforge.errors import ConfigError


def config_files(args: list[str]) -> Iterator[str]:
    """The values of `-c` / `--config` in a command line."""
    for index, arg in enumerate(args):
        if arg in ("-c", "--config") and index + 1 < len(args):
            yield args[index + 1]
        elif arg.startswith("--config="):
            yield arg.split("=", 1)[1]


class _DuplicateKeys(yaml.SafeLoader):
    """A YAML loader that warns about a key given twice in one mapping."""

    path = ""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = key_node.value
            if key in seen:
                line = key_node.start_mark.line + 1
                warnings.warn(
                    f"{self.path}: key {key!r} is given twice (line {line}); the last one is used",
                    stacklevel=2,
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def check_config_file(path: str) -> None:
    """ConfigError naming `path` unless it is a UTF-8 YAML mapping; warn about repeated keys."""
    file = Path(path)
    if not file.is_file():
        return  # the parser names a missing file itself
    try:
        text = file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {error.start}); save it as UTF-8 YAML"
        ) from None
    loader = type("Loader", (_DuplicateKeys,), {"path": path})
    try:
        content = yaml.load(text, Loader=loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        reason = getattr(error, "problem", None) or "not valid YAML"
        raise ConfigError(f"config file {path}{where}: {reason}; fix the YAML") from None
    if not isinstance(content, dict):
        kind = "empty" if content is None else f"a {type(content).__name__}, not a mapping"
        raise ConfigError(f"config file {path} is {kind}: give `key: value` settings")


def check_config_files(args: list[str]) -> None:
    """Check every `-c` file of a command line (see `check_config_file`)."""
    for path in config_files(args):
        check_config_file(path)

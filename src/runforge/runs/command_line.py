"""Files named on the command line, checked before the parser reads them."""

from pathlib import Path

from runforge.cli.config_files import check_config_files
from runforge.runs.resolve import check_checkpoint


def _option_values(args: list[str], option: str) -> list[str]:
    values = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == option]
    return values + [arg.split("=", 1)[1] for arg in args if arg.startswith(f"{option}=")]


def check_command_line(args: list[str]) -> None:
    """ConfigError naming the first unusable `-c` file or `--ckpt_path` checkpoint file.

    Lightning reads a checkpoint's hyperparameters while parsing, so an empty, truncated or
    unsafe checkpoint is caught here, with torch's safe loading (nothing in it runs).
    """
    check_config_files(args)
    for value in _option_values(args, "--ckpt_path"):
        if value not in ("last", "best") and Path(value).is_file():
            check_checkpoint(Path(value))

"""Run the template's CLI inside this process, for entry points that start many runs."""

import contextlib
import io
import sys
from typing import Any
from unittest import mock

import yaml

from utils.errors import ConfigError
from utils.parser import summarize


def build_cli(args: list[str], run: bool = True) -> Any:
    """`cli.CLI(args=args, run=run)`, with this process's own command line kept out of it."""
    from cli import CLI

    with mock.patch.object(sys, "argv", sys.argv[:1]):
        return CLI(args=args, run=run)


def run_command(args: list[str]) -> None:
    """`python src/main.py ARGS` in this process; a refused config exits with code 2."""
    from cli import main

    with mock.patch.object(sys, "argv", sys.argv[:1]):
        main(args)


def resolved_config(args: list[str]) -> dict:
    """The config a fit resolves from `args` (no subcommand); a ConfigError if it does not parse."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            build_cli([*args, "--print_config"], run=False)
    except SystemExit as done:
        if done.code:
            message = err.getvalue().strip().splitlines() or [f"exit code {done.code}"]
            raise ConfigError(summarize(message[0].removeprefix("error: "))) from None
    return yaml.safe_load(out.getvalue())

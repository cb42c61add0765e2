"""Run the template's CLI inside this process, for entry points that start many runs."""

import contextlib
import io
import logging
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import yaml

from runforge.cli.parser import summarize
from runforge.errors import ConfigError
from runforge.runs.trainer_values import check_trainer_values

#: Lightning's loggers: device banner, seed, notes of callbacks (`rank_zero_info`).
LIGHTNING_LOGGERS = ("lightning.pytorch", "lightning.fabric")


def build_cli(args: list[str], run: bool = True) -> Any:
    """`cli.CLI(args=args, run=run)`, with this process's own command line kept out of it."""
    from runforge.cli.cli import CLI

    with mock.patch.object(sys, "argv", sys.argv[:1]):
        return CLI(args=args, run=run)


def run_command(args: list[str]) -> None:
    """`python src/main.py ARGS` in this process; a refused config exits with code 2."""
    from runforge.cli.cli import main

    with mock.patch.object(sys, "argv", sys.argv[:1]):
        main(args)


@contextlib.contextmanager
def quiet_start_up() -> Iterator[None]:
    """Keep Lightning's info lines (device banner, seed, notes) off the console; warnings stay."""
    loggers = [logging.getLogger(name) for name in LIGHTNING_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _parsed(build: Callable[[], Any], out: io.StringIO) -> Any:
    """`build()` with its console captured; a ConfigError if the parser refuses the config."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return build()
    except SystemExit as done:
        if done.code:
            message = err.getvalue().strip().splitlines() or [f"exit code {done.code}"]
            raise ConfigError(summarize(message[0].removeprefix("error: "))) from None
    return None


def resolved_config(args: list[str]) -> dict:
    """The config a fit resolves from `args` (no subcommand); a ConfigError if it does not parse."""
    out = io.StringIO()
    _parsed(lambda: build_cli([*args, "--print_config"], run=False), out)
    return yaml.safe_load(out.getvalue())


def _classes_only(cli_class: type) -> type:
    """A subclass of the CLI that builds the data module and model only (see `built_classes`)."""

    class ClassesOnly(cli_class):
        def before_instantiate_classes(self) -> None:
            """No run, lock, callbacks or loggers: only the config's trainer values are checked."""
            check_trainer_values(self.config.trainer)
            self.placed = self.config.clone()
            for key in ("callbacks", "logger", "plugins", "profiler"):
                self.placed.trainer[key] = None

        def instantiate_trainer(self, **kwargs: Any) -> None:
            """No trainer is built."""
            return None

    return ClassesOnly


def built_classes(args: list[str]) -> Any:
    """A fit's CLI with its data module and model built: no trainer, run directory or lock.

    `cli.datamodule`, `cli.model` and `cli.config` are set; callbacks and loggers are not
    built and nothing is written. A ConfigError when the config does not parse or a class
    refuses its arguments.
    """
    from runforge.cli.cli import CLI

    with quiet_start_up(), mock.patch.object(sys, "argv", sys.argv[:1]):
        return _parsed(lambda: _classes_only(CLI)(args=args, run=False), io.StringIO())


def validation_keys(args: list[str]) -> list[str]:
    """The metrics one validation batch of a fit of `args` logs, on one device; nothing written.

    The data module and model are built as `built_classes` builds them; the trainer has no
    logger, callbacks or checkpoints, and its root is a temporary folder, removed after.
    """
    from lightning.pytorch import Trainer

    cli = built_classes(args)
    trainer_config = cli.config.trainer
    accelerator = trainer_config.accelerator  # a class_path one: Lightning picks
    with tempfile.TemporaryDirectory() as folder, quiet_start_up():
        trainer = Trainer(
            accelerator=accelerator if isinstance(accelerator, str) else "auto",
            devices=1,
            precision=trainer_config.precision,
            limit_val_batches=1,
            logger=False,
            callbacks=[],
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=folder,
        )
        trainer.validate(cli.model, datamodule=cli.datamodule, verbose=False)
    return sorted(trainer.callback_metrics)

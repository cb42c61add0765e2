"""The command line interface: LightningCLI plus the template's run directory and flags.

It only wires arguments, links, the run directory and checkpoint; callbacks are in the config.
"""

import os
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
from jsonargparse import Namespace
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch import Trainer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities import rank_zero_info

from runforge.checkpoints import ConfigOverCheckpoint
from runforge.cli.class_paths import check_class_paths
from runforge.cli.parser import Flags, Parser, summarize
from runforge.cli.quiet import quiet_lightning
from runforge.errors import ConfigError, RunStopped, trainer_settings_checked_by_lightning
from runforge.records import Provenance, RunRecords, SaveRunConfig
from runforge.runs import RunDirectory, run_dir
from runforge.runs.command_line import check_command_line
from runforge.runs.lock import RunLock
from runforge.runs.placement import place_trainer_outputs, settle_trainer
from runforge.runs.resolve import resolve_run
from runforge.runs.seed import random_seed

PROJECT_ROOT = Path(os.environ.get("PROJECT_ROOT", Path(__file__).resolve().parents[3]))
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "default.yaml"


class CLI(ConfigOverCheckpoint, LightningCLI):
    """`fit`, `validate`, `test` and `predict` with `configs/default.yaml` loaded first.

    With `run=False` no subcommand is run: the classes are built for a fit in its own run
    directory, locked (`runforge.runs.lock`): call `cli.trainer.fit(...)`, then
    `cli.lock.release()`.
    """

    def __init__(self, args: list[str] | None = None, run: bool = True) -> None:
        quiet_lightning()
        defaults = {"default_config_files": [str(DEFAULT_CONFIG)]}
        self.command = list(sys.argv) if args is None else [sys.argv[0], *args]
        self.lock = RunLock()  # of the run written; with run=False the caller releases it
        with self.lock.released_after(keep=not run):
            super().__init__(
                parser_class=Parser,
                save_config_callback=SaveRunConfig,  # config.yaml in the run, config to loggers
                auto_configure_optimizers=False,  # tasks own their optimizer and scheduler
                parser_kwargs={s: defaults for s in self.subcommands()} if run else defaults,
                args=args,
                run=run,
            )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Add the run directory, the template's flags and the data-to-model links."""
        parser.add_class_arguments(RunDirectory, "run")
        parser.add_class_arguments(Flags)  # top-level flags: --test_after_fit, ...
        for attribute, target in (
            ("num_classes", "model.init_args.num_classes"),
            ("num_classes", "model.init_args.net.init_args.num_classes"),
            ("input_shape", "model.init_args.net.init_args.input_shape"),
        ):
            parser.link_data_attribute(attribute, target)

    @property
    def command_config(self) -> Namespace:
        """The config of the current command, as given (what `config.yaml` records)."""
        return self.config[self.subcommand] if self.subcommand else self.config

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Parse; check every class path against its slot; `seed_everything: true` draws one.

        Lightning seeds right after parsing, and seeds `true` with 0: the drawn seed is
        recorded in the config instead (`runforge.runs.seed.random_seed`).
        """
        super().parse_arguments(parser, args)
        config = (
            self.config[self.config.subcommand] if self.config.get("subcommand") else self.config
        )
        try:
            check_class_paths(config)  # before anything is called or built
        except ConfigError as error:
            parser.error(str(error))
        if config.get("seed_everything") is True:
            config.seed_everything = random_seed()

    def before_instantiate_classes(self) -> None:
        """Pick the run and checkpoint; point a copy of the config (what is built) at the run."""
        super().before_instantiate_classes()
        config = self.command_config
        if config.ignore_warnings:
            warnings.filterwarnings("ignore")
        torch.set_float32_matmul_precision(config.float32_matmul_precision)
        try:
            run, ckpt_path = resolve_run(
                RunDirectory(**config.run), config.get("ckpt_path"), self.subcommand or "fit"
            )
            if self.subcommand:  # with run=False there is no checkpoint to load
                config.ckpt_path = ckpt_path
            config.run.root, config.run.name, config.run.version = run.root, run.name, run.version
            self.lock.take(run.path, self.command)  # before anything of the run is written
            settle_trainer(config.trainer, config.drop_callbacks)
            config.drop_callbacks = []  # done: the callbacks list records it
            self.placed = self.config.clone()
            placed = self.placed[self.subcommand] if self.subcommand else self.placed
            place_trainer_outputs(placed.trainer, run)
        except ConfigError as error:
            self._parser(self.subcommand).error(str(error))

    def instantiate_classes(self) -> None:
        """Build data, model and trainer; a class rejecting its arguments is a ConfigError."""
        try:
            self.config_init = self.parser.instantiate_classes(self.placed)
            self.datamodule = self._get(self.config_init, "data")
            self.model = self._get(self.config_init, "model")
            self.trainer = self.instantiate_trainer()
        except (ValueError, MisconfigurationException) as error:
            message = f"the configured classes could not be built: {summarize(str(error))}"
            raise ConfigError(message) from error

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """Build the trainer; the run's provenance records the command line this CLI was given."""
        trainer = super().instantiate_trainer(**kwargs)
        for callback in trainer.callbacks:
            provenance = callback.provenance if isinstance(callback, RunRecords) else callback
            if isinstance(provenance, Provenance) and provenance.command is None:
                provenance.command = self.command
        return trainer

    def fit(self, **kwargs: Any) -> None:
        """`trainer.fit`; a new run that fails before its first step leaves no directory behind."""
        try:
            with trainer_settings_checked_by_lightning():
                self.trainer.fit(**kwargs)
        except BaseException as error:
            self.lock.discard_new_run(self.trainer, quietly=isinstance(error, ConfigError))
            raise

    def after_fit(self) -> None:
        """With `--test_after_fit`, test the best checkpoint; then say where the run is."""
        if self.config.fit.test_after_fit:
            from runforge.records.test_after_fit import test_after_fit

            test_after_fit(self.trainer, self.model, self.datamodule)
        if self.trainer.fast_dev_run:
            rank_zero_info("fast_dev_run: a debug run, nothing was written")
        else:
            rank_zero_info(f"Run directory: {run_dir(self.trainer)}")


def main(args: list[str] | None = None) -> None:
    """Run the CLI on `args` (default: sys.argv): exit 2 on bad input, 1 on a stopped run."""
    try:
        check_command_line(sys.argv[1:] if args is None else args)
        CLI(args=args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except RunStopped:  # its one line was printed where it stopped
        sys.exit(1)
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()  # torchrun's: it outlives the trainer

"""The command line interface: LightningCLI plus the template's run directory and flags.

This module only wires: it adds arguments and links, resolves the run directory and
checkpoint, and picks the run-level callbacks. The behaviour lives in `runs/` and
`callbacks/`.
"""

import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any, Literal

import torch
from jsonargparse import Namespace
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only

from callbacks import (
    LogHyperparameters,
    MetricsWriter,
    PredictionWriter,
    RecordLoggerRuns,
    SaveRunConfig,
)
from callbacks.git_commit import GitCommit
from callbacks.provenance import Provenance
from runs import RunDirectory
from runs.placement import place_trainer_outputs
from runs.resolve import resolve_run
from runs.seed import random_seed
from runs.test_after_fit import test_after_fit
from utils.errors import ConfigError, RunStopped
from utils.parser import Parser, summarize
from utils.quiet import quiet_lightning

PROJECT_ROOT = Path(os.environ.get("PROJECT_ROOT", Path(__file__).resolve().parent.parent))
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "default.yaml"


def _discard(created: list[Path]) -> None:
    """Remove folders this command created (the run directory first, then empty parents)."""
    run_dir, *parents = created
    shutil.rmtree(run_dir, ignore_errors=True)
    for folder in parents:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


class CLI(LightningCLI):
    """`fit`, `validate`, `test` and `predict` with `configs/default.yaml` loaded first.

    With `run=False` no subcommand is given or run: the classes are built for a fit (the
    run directory, outputs and run records as for `fit`), and you call
    `cli.trainer.fit(cli.model, datamodule=cli.datamodule)` yourself.
    """

    def __init__(self, args: list[str] | None = None, run: bool = True) -> None:
        quiet_lightning()
        defaults = {"default_config_files": [str(DEFAULT_CONFIG)]}
        #: The command line recorded in the run's provenance.
        self.command = list(sys.argv) if args is None else [sys.argv[0], *args]
        super().__init__(
            parser_class=Parser,
            save_config_callback=None,  # SaveRunConfig writes into the run directory instead
            auto_configure_optimizers=False,  # tasks own their optimizer and scheduler
            parser_kwargs={s: defaults for s in self.subcommands()} if run else defaults,
            args=args,
            run=run,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Add the run directory, the template's flags and the data-to-model links.

        Every subcommand accepts every flag, so a fit's `config.yaml` also drives
        `test`/`predict`; the fit-only flags do nothing there.
        """
        parser.add_class_arguments(RunDirectory, "run")
        parser.add_argument(
            "--ignore_warnings", type=bool, default=False, help="Silence Python warnings."
        )
        parser.add_argument(
            "--git_commit_before_fit",
            type=bool,
            default=False,
            help="fit: first commit modified and new (not gitignored) files, naming the run.",
        )
        parser.add_argument(
            "--test_after_fit",
            type=bool,
            default=False,
            help="fit: afterwards test the best checkpoint and write test_metrics.json.",
        )
        parser.add_argument(
            "--float32_matmul_precision",
            type=Literal["highest", "high", "medium"],
            default="high",
            help="torch.set_float32_matmul_precision before training; high allows TF32.",
        )
        for attribute, target in (
            ("num_classes", "model.init_args.num_classes"),
            ("num_classes", "model.init_args.net.init_args.num_classes"),
            ("input_shape", "model.init_args.net.init_args.input_shape"),
        ):
            parser.link_data_attribute(attribute, target)

    @property
    def command_name(self) -> str:
        """The subcommand; `fit` when the CLI was built with `run=False`."""
        return self.subcommand or "fit"

    @property
    def command_config(self) -> Namespace:
        """The config of the current command."""
        return self.config[self.subcommand] if self.subcommand else self.config

    @property
    def run_dir(self) -> Path:
        """The run directory of the current command."""
        return RunDirectory(**self.command_config.run).path

    def _set_seed(self) -> None:
        """Seed as Lightning does, except that `true` draws a random seed (Lightning's is 0).

        The seed drawn replaces `true` in the config, so `config.yaml` and provenance hold it.
        """
        if self.command_config.get("seed_everything") is True:
            self.command_config.seed_everything = random_seed()
        super()._set_seed()

    def before_instantiate_classes(self) -> None:
        """Pick the run directory and checkpoint, and point the trainer's outputs at the run."""
        config = self.command_config
        if config.ignore_warnings:
            warnings.filterwarnings("ignore")
        torch.set_float32_matmul_precision(config.float32_matmul_precision)
        try:
            run, ckpt_path = resolve_run(
                RunDirectory(**config.run), config.get("ckpt_path"), self.command_name
            )
            if self.subcommand:  # with run=False there is no checkpoint to load
                config.ckpt_path = ckpt_path
            config.run.root, config.run.name, config.run.version = run.root, run.name, run.version
            #: The config as given, with the run filled in: what config.yaml and the loggers
            #: record. The outputs placed in the run below stay out of it, so a new run
            #: started from config.yaml places its own.
            self.run_config = config.clone()
            place_trainer_outputs(config.trainer, run)
        except ConfigError as error:
            self._parser(self.subcommand).error(str(error))
        #: Folders this command creates for a new run, removed again if it fails to start.
        self.created = [p for p in (self.run_dir, *self.run_dir.parents) if not p.exists()]

    def instantiate_classes(self) -> None:
        """Build data, model and trainer; a class rejecting its arguments is a ConfigError."""
        try:
            super().instantiate_classes()
        except (ValueError, MisconfigurationException) as error:
            message = f"the configured classes could not be built: {summarize(str(error))}"
            raise ConfigError(message) from error

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """Build the trainer with the run-level callbacks added."""
        trainer = super().instantiate_trainer(**kwargs)
        trainer.callbacks.extend(self.run_callbacks(trainer))
        return trainer

    def run_callbacks(self, trainer: Trainer) -> list[Callback]:
        """The callbacks that write the run's records into its directory (none in a debug run)."""
        if trainer.fast_dev_run:
            return []
        run_dir = self.run_dir
        callbacks: list[Callback] = [
            MetricsWriter(run_dir),
            PredictionWriter(run_dir),
            RecordLoggerRuns(run_dir),
        ]
        if self.command_name != "fit":
            return callbacks
        parser, config = self._parser(self.subcommand), self.run_config
        callbacks += [SaveRunConfig(parser, config, run_dir), LogHyperparameters(parser, config)]
        git = None
        if config.git_commit_before_fit:
            run = RunDirectory(**config.run)
            git = GitCommit(f"Run {run.name}/{run.version}", exclude=[run.root])
            callbacks.append(git)
        callbacks.append(Provenance(run_dir, command=self.command, git_commit=git))
        return callbacks

    def fit(self, **kwargs: Any) -> None:
        """`trainer.fit`; a new run that stops on a ConfigError leaves no directory behind."""
        try:
            self.trainer.fit(**kwargs)
        except ConfigError:
            if self.created:
                rank_zero_only(_discard)(self.created)
            raise

    def after_fit(self) -> None:
        """With `--test_after_fit`, test the best checkpoint; then say where the run is."""
        if self.config.fit.test_after_fit:
            test_after_fit(self.trainer, self.model, self.datamodule)
        if self.trainer.fast_dev_run:
            rank_zero_info("fast_dev_run: a debug run, nothing was written")
        else:
            rank_zero_info(f"Run directory: {self.run_dir}")


def main(args: list[str] | None = None) -> None:
    """Run the CLI on `args` (default: the command line); config errors exit with code 2."""
    try:
        CLI(args=args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except RunStopped:  # its one line was printed where it stopped
        sys.exit(1)
    finally:
        # Under torchrun the process group outlives the trainer; left to interpreter exit,
        # its threads can abort the process ("terminate called without an active exception").
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()

"""Save the config of a `fit` as `<run>/config.yaml` and log it to every logger.

The CLI passes `SaveRunConfig` as LightningCLI's `save_config_callback`; it receives the
config as given (the run filled in, before the CLI points the outputs at the run).
"""

import time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from jsonargparse import Namespace
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.cli import LightningArgumentParser, SaveConfigCallback
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only, rank_zero_warn

from runforge.runs.directory import CONFIG_NAME, RunDirectory, run_dir

if TYPE_CHECKING:
    from runforge.git.commit import GitCommit

#: The first lines of every saved config: where the outputs really go.
HEADER = (
    "# The CLI points every logger's and checkpoint's folder into this run's directory when\n"
    "# it starts; the locations below are as given, so a run started from this file gets\n"
    "# its own folders. Resume this run: fit -c <this file> --ckpt_path last\n"
)


def dump_run_config(parser: LightningArgumentParser, config: Namespace) -> str:
    """The config as YAML with `ckpt_path` null, so the text starts a run, not a resume."""
    config = config.clone()
    if "ckpt_path" in config:
        config.ckpt_path = None
    return HEADER + parser.dump(config, skip_none=False)


class SaveRunConfig(SaveConfigCallback):
    """Write the config of a fit as `config.yaml` in the run and log it to every logger.

    `fit -c config.yaml --ckpt_path last` resumes the run; with `--run.version null` it
    starts a new run like it. The first fit of a run writes `config.yaml`. A resumed fit
    keeps it: an identical config is not written again, a changed one is saved beside it
    as `config-<time>.yaml` (with `overwrite`, `config.yaml` is replaced instead).
    With `--git_commit_before_fit` the working tree is committed first. When fitting
    starts, every logger gets the task's optimizer/scheduler summary and the whole
    config under `config` (TensorBoard hparams, CSV `hparams.yaml`, the W&B run config,
    MLflow params); a logger that refuses changed values keeps the ones it has.

    Args:
        parser: The subcommand's parser, used to dump the config.
        config: The subcommand's config as given.
        config_filename: Name of the saved config in the run directory.
        overwrite: Replace a changed `config.yaml` instead of saving beside it.
    """

    def __init__(
        self,
        parser: LightningArgumentParser,
        config: Namespace,
        config_filename: str = CONFIG_NAME,
        overwrite: bool = False,
    ) -> None:
        super().__init__(parser, config, config_filename, overwrite, save_to_log_dir=False)
        #: The `--git_commit_before_fit` step (its sha goes into the run's provenance).
        self.git_commit: GitCommit | None = None
        self.saved_as: Path | None = None

    @cached_property
    def text(self) -> str:
        """The config as saved (`dump_run_config`), dumped once: dumping takes ~40 ms."""
        return dump_run_config(self.parser, self.config)

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """At the start of fit (rank zero): commit if asked, then write the config."""
        if stage != "fit":
            return
        if self.config.get("git_commit_before_fit"):
            from runforge.git.commit import GitCommit

            run = RunDirectory(**self.config.run)
            self.git_commit = GitCommit(f"Run {run.name}/{run.version}", exclude=[run.root])
            self.git_commit.commit()
        self.saved_as = self.write(run_dir(trainer))

    def write(self, folder: Path) -> Path:
        """Write the config into `folder` unless it is there already; return the file."""
        text = self.text
        path = folder / self.config_filename
        if path.is_file() and not self.overwrite:
            if path.read_text() == text:
                return path
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path, count = folder / f"config-{stamp}.yaml", 1
            while path.exists():  # two resumes within a second
                count += 1
                path = folder / f"config-{stamp}-{count}.yaml"
            rank_zero_info(f"The config changed since this run started; saving it as {path}")
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def hyperparameters(self, pl_module: LightningModule) -> dict[str, Any]:
        """The task's optimizer/scheduler summary plus the whole config under `config`.

        `ckpt_path` is left out, as in `config.yaml`. Nothing comes from the environment:
        the CLI does not read environment variables, so API keys never get here.
        """
        resolved = yaml.safe_load(self.text)
        resolved.pop("ckpt_path", None)
        summary = getattr(pl_module, "optimization_summary", dict)()
        return {**summary, "config": resolved}

    @rank_zero_only
    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Log before Lightning's own hyperparameter logging (TensorBoard keeps the first)."""
        if not trainer.loggers or trainer.fast_dev_run:
            return
        params = self.hyperparameters(pl_module)
        for logger in trainer.loggers:
            try:
                logger.log_hyperparams(params)
                logger.save()
            except Exception as error:  # noqa: BLE001 - a logger's refusal must not stop training
                rank_zero_warn(
                    f"{type(logger).__name__} did not take the updated hyperparameters and "
                    f"keeps the ones it has: {str(error).splitlines()[0][:300]}"
                )

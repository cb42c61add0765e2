"""Save the resolved config of a `fit` as `config.yaml` in the run directory."""

import time
from pathlib import Path

from jsonargparse import ArgumentParser, Namespace
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only

from runs.directory import CONFIG_NAME


def dump_run_config(parser: ArgumentParser, config: Namespace) -> str:
    """The config as YAML with `ckpt_path` null, so the text starts a run, not a resume."""
    config = config.clone()
    if "ckpt_path" in config:
        config.ckpt_path = None
    return parser.dump(config, skip_none=False)


class SaveRunConfig(Callback):
    """Write the resolved config as `config.yaml` in the run directory.

    `fit -c config.yaml --ckpt_path last` resumes the run; with `--run.version null` it
    starts a new run like it. The first fit of a run writes `config.yaml`. A resumed fit
    keeps it: an identical config is not written again, a changed one is saved beside it
    as `config-<time>.yaml`, so nothing is ever overwritten.

    Args:
        parser: The subcommand's parser, used to dump the config.
        config: The subcommand's resolved config.
        run_dir: The run directory.
    """

    def __init__(self, parser: ArgumentParser, config: Namespace, run_dir: str | Path) -> None:
        self.parser = parser
        self.config = config
        self.run_dir = Path(run_dir)
        self.saved_as: Path | None = None

    @rank_zero_only
    def _save(self) -> None:
        text = dump_run_config(self.parser, self.config)
        path = self.run_dir / CONFIG_NAME
        if path.is_file():
            if path.read_text() == text:
                self.saved_as = path
                return
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path, count = self.run_dir / f"config-{stamp}.yaml", 1
            while path.exists():  # two resumes within a second
                count += 1
                path = self.run_dir / f"config-{stamp}-{count}.yaml"
            rank_zero_info(f"The config changed since this run started; saving it as {path}")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        self.saved_as = path

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Save once, at the start of fit."""
        if stage == "fit" and self.saved_as is None:
            self._save()

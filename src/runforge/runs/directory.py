"""One directory per run, `<root>/<name>/<version>/`, whatever loggers are configured."""

import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from runforge.errors import ConfigError
from runforge.runs.slurm import batch_job_id

if TYPE_CHECKING:
    from lightning.pytorch import Trainer

#: Carries the version chosen by the launching process to the processes Lightning starts
#: for multi-device training, so every rank writes to the same run directory.
VERSION_ENV = "RUN_VERSION"
CHECKPOINTS = "checkpoints"
#: The resolved config every fit saves in its run directory (see `runforge.records.SaveRunConfig`).
CONFIG_NAME = "config.yaml"


class RunError(ConfigError):
    """A run or checkpoint that the user asked for cannot be used; the message says why."""


def run_dir(trainer: "Trainer") -> Path:
    """The run directory a trainer writes into: its `default_root_dir`, set by the CLI.

    Every callback that writes into the run finds it here. A trainer built in Python
    without the CLI uses its own `default_root_dir` (the working directory by default).
    """
    return Path(trainer.default_root_dir)


def nothing_to_keep(trainer: "Trainer") -> bool:
    """Whether a failed fit left nothing worth keeping: no step trained, no checkpoint."""
    checkpoints = run_dir(trainer) / CHECKPOINTS
    return trainer.global_step == 0 and not any(checkpoints.glob("*.ckpt"))


def discard(created: list[Path]) -> None:
    """Remove the folders a command created: its run directory first, then empty parents."""
    folder, *parents = created
    shutil.rmtree(folder, ignore_errors=True)
    for parent in parents:
        if parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()


def launcher_version() -> str | None:
    """The version every process of a `torchrun` launch or a SLURM job agrees on.

    Those launchers start all processes themselves, each parsing the command line on its
    own, so a random name would differ between them: the launch's id is used instead,
    `torchrun-<rendezvous id>`, `slurm-<job id>` in a SLURM batch job (also after the job
    is requeued, so it resumes the same run; see `runforge.runs.slurm`), or `slurm-<job id>.<step
    id>` for a multi-task `srun` inside an interactive allocation. None outside such launches.
    """
    run_id = os.environ.get("TORCHELASTIC_RUN_ID")
    if run_id is not None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        if run_id == "none":
            raise RunError(
                "torchrun without --standalone or --rdzv-id gives its processes no shared id, "
                "so they cannot agree on a run directory: pass --run.version <name>"
            )
        return f"torchrun-{run_id}"
    if batch_job_id():
        return f"slurm-{batch_job_id()}"
    job, step = os.environ.get("SLURM_JOB_ID"), os.environ.get("SLURM_STEP_ID")
    if job and step and int(os.environ.get("SLURM_NTASKS", "1")) > 1:
        return f"slurm-{job}.{step}"
    return None


def new_version(experiment: Path) -> str:
    """A fresh version name for a run in `experiment`: start time plus a random suffix.

    The 32-bit suffix keeps runs started in the same second apart (a clash is about one
    in a billion for a handful of runs), and a name already taken in `experiment` is
    never returned. Processes that Lightning launches for the other devices of the same
    run reuse the version of the launching process; under `torchrun` and `srun` every
    process uses the launch's id (see `launcher_version`).
    """
    inherited = os.environ.get(VERSION_ENV)
    if inherited and os.environ.get("LOCAL_RANK", "0") != "0":
        return inherited
    version = launcher_version()
    if version is None:
        version = _timestamped()
        while (experiment / version).exists():
            version = _timestamped()
    os.environ[VERSION_ENV] = version
    return version


def _timestamped() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"


#: Longest file name most file systems take, in bytes.
MAX_NAME_BYTES = 255


def check_folder_name(key: str, value: str) -> None:
    """RunError unless `value` (of config key `key`) is one plain folder name, not a path."""
    plain = value.strip() and value not in {".", ".."} and not {"/", "\\"} & set(value)
    if not plain or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise RunError(
            f"{key}={value!r} must be a plain folder name: not blank, no '/', no control "
            "characters or line breaks"
        )
    if len(value.encode()) > MAX_NAME_BYTES:
        raise RunError(f"{key} is {len(value.encode())} bytes long: at most {MAX_NAME_BYTES}")


def _check_root(root: str) -> None:
    """The runs' root must be a folder (or one that can be made) other than the current one."""
    if not root.strip() or Path(root) == Path("."):
        raise RunError(
            f"run.root={root!r} would put runs in the current folder: give a folder, e.g. logs"
        )
    existing = Path(root)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise RunError(f"run.root={root}: {existing} is a file, not a folder")
    try:
        # Can runs be written there? A nameless file (O_TMPFILE), so that nothing scanning
        # the root at the same time (compare, another run) meets a folder that vanishes.
        tempfile.TemporaryFile(dir=existing).close()
    except OSError as error:
        raise RunError(f"run.root={root}: cannot write in {existing} ({error.strerror})") from None


@dataclass(frozen=True)
class RunDirectory:
    """Where a run keeps its files: `<root>/<name>/<version>/`.

    Args:
        root: Folder that holds all runs.
        name: Experiment name; runs of one experiment sit side by side under it.
        version: This run's folder name; left empty, a unique timestamped name is chosen.
    """

    root: str = "logs"
    name: str = "default"
    version: str | None = None

    def __post_init__(self) -> None:
        _check_root(self.root)
        check_folder_name("run.name", self.name)
        if self.version is not None:
            check_folder_name("run.version", self.version)

    @property
    def path(self) -> Path:
        """The run's folder (requires a version)."""
        if self.version is None:
            raise RunError("the run has no version yet")
        return Path(self.root, self.name, self.version)

    @property
    def checkpoints(self) -> Path:
        """The folder that holds this run's checkpoints."""
        return self.path / CHECKPOINTS

    def with_version(self, version: str) -> "RunDirectory":
        """The same experiment with the given version."""
        return replace(self, version=version)

    def with_new_version(self) -> "RunDirectory":
        """The same experiment with a fresh, untaken version (see `new_version`)."""
        return self.with_version(new_version(Path(self.root, self.name)))

    @classmethod
    def of_checkpoint(cls, ckpt_path: Path) -> "RunDirectory | None":
        """The run a checkpoint belongs to: it sits in `checkpoints/` beside a `config.yaml`."""
        folder = ckpt_path.parent
        run_path = folder.parent
        if folder.name != CHECKPOINTS or not (run_path / CONFIG_NAME).is_file():
            return None
        if not run_path.parent.parent.name:  # e.g. `v1/checkpoints/x.ckpt`: name the folders
            run_path = run_path.absolute()
        return cls(
            root=str(run_path.parent.parent), name=run_path.parent.name, version=run_path.name
        )

    def newest_with(self, relative: str) -> "RunDirectory | None":
        """The most recently modified run of this experiment that contains `relative`."""
        experiment = Path(self.root, self.name)
        found = [p for p in experiment.glob(f"*/{relative}") if p.is_file()]
        if not found:
            return None
        newest = max(found, key=lambda p: p.stat().st_mtime)
        return self.with_version(newest.relative_to(experiment).parts[0])

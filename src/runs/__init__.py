"""Run directories: where each run's config, checkpoints, metrics and logger files live."""

from runs.atomic_checkpoint import AtomicCheckpointIO
from runs.directory import RunDirectory, RunError

__all__ = ["AtomicCheckpointIO", "RunDirectory", "RunError"]

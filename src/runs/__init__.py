"""Run directories: where each run's config, checkpoints, metrics and logger files live."""

from runs.directory import RunDirectory, RunError

__all__ = ["RunDirectory", "RunError"]

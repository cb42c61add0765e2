"""The error types for what a user can fix: bad input, and a run stopped by its environment."""

import contextlib
from collections.abc import Iterator


class ConfigError(ValueError):
    """A config value, flag or file that cannot be used; the message names it and the fix.

    The CLI prints it as one line and exits with code 2, without a traceback.
    """


class RunStopped(RuntimeError):
    """A run stopped for a reason outside the code (a full disk, a diverged loss).

    The message is printed as one `error:` line (rank zero) where it is raised; the CLI
    exits with code 1 without a traceback, as there is no bug to show.
    """


@contextlib.contextmanager
def trainer_settings_checked_by_lightning() -> Iterator[None]:
    """ConfigErrors for the trainer settings Lightning rejects once it knows the data.

    A `val_check_interval` beyond the epoch's batches is one. Only what Lightning's fit loop
    raises itself while it sizes the epoch is converted; an error from deeper (a data
    module's `train_dataloader`, say) keeps its traceback.
    """
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    from runforge.compat import raised_sizing_the_epoch

    try:
        yield
    except (ValueError, MisconfigurationException) as error:
        if not raised_sizing_the_epoch(error):
            raise
        raise ConfigError(f"trainer: {' '.join(str(error).split())}") from error


@contextlib.contextmanager
def names_the_key(key: str) -> Iterator[None]:
    """Turn a class rejecting a value (e.g. torch's `lr=-1`) into a ConfigError naming `key`.

    For a task that builds classes from its config: `with names_the_key("model.metrics"): ...`.
    """
    try:
        yield
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{key}: {error}") from error

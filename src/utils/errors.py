"""The error types for what a user can fix: bad input, and a run stopped by its environment."""


class ConfigError(ValueError):
    """A config value, flag or file that cannot be used; the message names it and the fix.

    The CLI prints it as one line and exits with code 2, without a traceback.
    """


class RunStopped(RuntimeError):
    """A run stopped for a reason outside the code (a full disk, a diverged loss).

    The message is printed as one `error:` line (rank zero) where it is raised; the CLI
    exits with code 1 without a traceback, as there is no bug to show.
    """

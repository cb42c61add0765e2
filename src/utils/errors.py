"""The error type for values a user gave that cannot be used."""


class ConfigError(ValueError):
    """A config value, flag or file that cannot be used; the message names it and the fix.

    The CLI prints it as one line and exits with code 2, without a traceback.
    """

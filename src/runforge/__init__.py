"""runforge: the engine of the template, one package a project does not edit.

The CLI, run directories and records, checkpoints, callbacks, loggers, optim recipes, data
machinery, task bases and many runs.

Everything here is upgraded with `copier update`; a project's own code lives beside it in `src/`
(data_modules, models, tasks, metrics, callbacks) and imports the public names below.
"""

from runforge.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "CLI": ".cli.cli",
        "main": ".cli.cli",
    },
)

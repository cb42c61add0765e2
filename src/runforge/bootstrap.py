"""Start-up shared by `src/main.py`, scripts and notebooks."""

from pathlib import Path

import pyrootutils


def setup_project(search_from: str | Path) -> Path:
    """Find the project root from `search_from`, load `.env`, work from the root; return it.

    The root is the folder holding `.project-root`. It becomes the working directory (so
    config paths resolve the same from anywhere) and `PROJECT_ROOT`; `.env` is loaded into
    the environment. The imports need no path: `pip install -e .` (`make install`) makes
    `src/` the one import root.
    """
    return pyrootutils.setup_root(
        search_from,
        indicator=".project-root",
        project_root_env_var=True,
        dotenv=True,
        pythonpath=False,
        cwd=True,
    )

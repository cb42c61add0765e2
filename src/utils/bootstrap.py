"""Start-up shared by `src/main.py`, scripts and notebooks."""

import sys
from pathlib import Path

import pyrootutils


def setup_project(search_from: str | Path) -> Path:
    """Find the project root from `search_from`, load `.env`, work from the root; return it.

    The root is the folder holding `.project-root`. It becomes the working directory (so
    config paths resolve the same from anywhere) and `PROJECT_ROOT`; `.env` is loaded into
    the environment; `src/` is put on `sys.path` once (the one import root).
    """
    root = pyrootutils.setup_root(
        search_from,
        indicator=".project-root",
        project_root_env_var=True,
        dotenv=True,
        pythonpath=False,
        cwd=True,
    )
    src = str(root / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    return root

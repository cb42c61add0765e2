#!/usr/bin/env python3
"""A table of an experiment's runs, read from their run directories.

python src/compare.py [logs/<name>] [--csv FILE]

One row per run: version, status, epochs, best monitored value, test metrics, wall time,
git sha, and every config key whose value differs between the runs; a run with a broken
file (a corrupt `last.ckpt`, non-numeric test metrics) is shown with a note. Without a
folder, the most recently changed experiment under `logs/` is shown.
"""

from runforge.bootstrap import setup_project

setup_project(__file__)

from runforge.many.compare import main  # noqa: E402  (needs the root set up first)

if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Hyperparameter sweep with Optuna: every trial is a normal run directory.

python src/sweep.py -c configs/sweep/digits_simplenet.yaml [--n_trials N] [--storage URL]

Start the same command on several machines with one `--storage` to run workers in
parallel; start it again to continue an interrupted sweep.
"""

from runforge.bootstrap import setup_project

setup_project(__file__)

from runforge.many.sweep import main  # noqa: E402  (needs the root set up first)

if __name__ == "__main__":
    main()

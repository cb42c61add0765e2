#!/usr/bin/env python3
"""Entry point: find the project root, load `.env`, then run the command line interface.

python src/main.py fit -c configs/data/digits.yaml -c configs/model/simplenet.yaml
"""

from runforge.bootstrap import setup_project

setup_project(__file__)

from runforge.cli.cli import main  # noqa: E402  (needs the root set up first)

if __name__ == "__main__":
    main()

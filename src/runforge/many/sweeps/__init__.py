"""Optuna sweeps whose trials are ordinary run directories (see `src/sweep.py`)."""

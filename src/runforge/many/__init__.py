"""Many runs: Optuna sweeps, k-fold cross-validation and the table of runs."""

#!/usr/bin/env python3
"""k-fold cross-validation: each fold is a run of one experiment, then a summary of all.

python src/kfold.py -c configs/data/digits.yaml -c configs/model/simplenet.yaml \
    --num_folds 5 --run.name digits_cv

Takes the `-c` files and flags of `fit`. Fold k is the run `<root>/<name>/fold-<k>/`: it
trains with fold k held out for validation, tests its best checkpoint on the fixed test
part, then validates that checkpoint (`validate_metrics.json`). Started again, the same
command skips the finished folds and resumes an interrupted one from its `last.ckpt`.
The summary, `cv_summary.json` in `<root>/<name>/`, gives the mean ± std of every `val/*`
and `test/*` metric over the folds, and each fold's value.
"""

from runforge.bootstrap import setup_project

setup_project(__file__)

from runforge.many.kfold import main  # noqa: E402  (needs the root set up first)

if __name__ == "__main__":
    main()

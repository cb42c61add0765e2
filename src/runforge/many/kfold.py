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

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import yaml

from runforge.cli.launch import built_classes, resolved_config, run_command
from runforge.data.folds import TooManyFolds
from runforge.errors import ConfigError
from runforge.many.table import text_table
from runforge.runs.directory import CHECKPOINTS, CONFIG_NAME

SUMMARY_NAME = "cv_summary.json"


def fold_runs(args: list[str], num_folds: int) -> list[Path]:
    """The run directory of every fold; checks the data module takes folds first."""
    try:
        config = resolved_config([*args, "--data.init_args.num_folds", str(num_folds)])
    except ConfigError as error:
        raise ConfigError(
            f"--num_folds needs a data module with `num_folds` and `fold` arguments "
            f"(an InMemoryImageDataModule): {error}"
        ) from None
    experiment = Path(config["run"]["root"], config["run"]["name"])
    runs = [experiment / f"fold-{k}" for k in range(num_folds)]
    for run in runs:
        saved = run / CONFIG_NAME
        if saved.is_file():
            data = yaml.safe_load(saved.read_text())["data"]["init_args"]
            if data.get("num_folds") != num_folds:
                raise ConfigError(
                    f"{run} was made with num_folds={data.get('num_folds')}, not {num_folds}: "
                    "give this cross-validation another --run.name"
                )
    return runs


def check_fold_sizes(args: list[str], num_folds: int) -> None:
    """Load the data once, before any fold trains: every class needs an image in every fold."""
    cli = built_classes([*args, "--data.init_args.num_folds", str(num_folds)])
    try:
        cli.datamodule.setup("fit")
    except TooManyFolds as error:
        raise error.named("--num_folds") from None


def run_fold(args: list[str], num_folds: int, run: Path) -> None:
    """Train, test and validate one fold, skipping what its run directory already holds."""
    fold = int(run.name.removeprefix("fold-"))
    config = str(run / CONFIG_NAME)
    if (run / "validate_metrics.json").is_file():
        print(f"fold {fold}: done before, skipped")
        return
    if not (run / "test_metrics.json").is_file():
        if (run / CHECKPOINTS / "last.ckpt").is_file():
            print(f"fold {fold}: resuming from its last checkpoint")
            run_command(["fit", "-c", config, "--ckpt_path", "last"])
        else:
            folds = [
                "--data.init_args.num_folds",
                str(num_folds),
                "--data.init_args.fold",
                str(fold),
            ]
            run_command(
                ["fit", *args, *folds, "--run.version", run.name, "--test_after_fit", "true"]
            )
    run_command(["validate", "-c", config, "--ckpt_path", "best"])


def summarize_folds(runs: list[Path]) -> dict:
    """Mean, sample std and per-fold values of each `val/*` and `test/*` metric."""
    folds = {}
    for run in runs:
        metrics = {}
        for name in ("validate_metrics.json", "test_metrics.json"):
            metrics.update(json.loads((run / name).read_text()))
        folds[run.name] = {k: v for k, v in metrics.items() if k.startswith(("val/", "test/"))}
    keys = sorted({key for metrics in folds.values() for key in metrics})
    summary = {}
    for key in keys:
        values = [folds[run.name].get(key) for run in runs]
        present = [v for v in values if v is not None]
        summary[key] = {
            "mean": statistics.fmean(present),
            "std": statistics.stdev(present) if len(present) > 1 else 0.0,
            "values": values,
        }
    return {"num_folds": len(runs), "runs": [str(run) for run in runs], "metrics": summary}


def format_table(summary: dict) -> str:
    """The summary as a text table: metric, mean ± std, then one column per fold.

    Per-class scores (`test/f1/<class>`, ...) stay in the JSON file, not the table.
    """
    count = summary["num_folds"]
    rows = [["metric", "mean ± std", *(f"fold-{k}" for k in range(count))]]
    for key, entry in summary["metrics"].items():
        if key.count("/") > 1:
            continue
        folds = ["-" if v is None else f"{v:.4f}" for v in entry["values"]]
        rows.append([key, f"{entry['mean']:.4f} ± {entry['std']:.4f}", *folds])
    return text_table(rows)


def main(argv: list[str] | None = None) -> None:
    """Run every fold, then write and print the summary."""
    parser = argparse.ArgumentParser(
        prog="kfold.py",
        description="k-fold cross-validation; every other argument is passed to `fit`.",
    )
    parser.add_argument("--num_folds", type=int, required=True, help="Number of folds (>= 2).")
    known, args = parser.parse_known_args(argv)
    try:
        if known.num_folds < 2:
            raise ConfigError(f"--num_folds must be >= 2, got {known.num_folds}")
        runs = fold_runs(args, known.num_folds)
        check_fold_sizes(args, known.num_folds)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    for run in runs:
        run_fold(args, known.num_folds, run)
    summary = summarize_folds(runs)
    path = runs[0].parent / SUMMARY_NAME
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(temporary, path)
    print(format_table(summary))
    print(f"Summary of {len(runs)} folds: {path}")

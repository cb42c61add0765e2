"""A table of an experiment's runs, read from their run directories.

python src/compare.py [logs/<name>] [--csv FILE]

One row per run: version, status, epochs, best monitored value, test metrics, wall time,
git sha, and every config key whose value differs between the runs; a run with a broken
file (a corrupt `last.ckpt`, non-numeric test metrics) is shown with a note. Without a
folder, the most recently changed experiment under `logs/` is shown.
"""

import argparse
import csv
import json
from pathlib import Path
from typing import Any

from runforge.errors import ConfigError
from runforge.many.table import text_table
from runforge.records.read_run import RunRecord, read_run, run_dirs

#: Config keys that differ between runs by design, left out of the differences.
SAME_BY_DESIGN = ("run.version",)


def _flatten(value: Any, prefix: str, out: dict[str, str]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = json.dumps(value) if isinstance(value, list | dict) else _text(value)


def _text(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def differing_keys(records: list[RunRecord]) -> dict[str, list[str]]:
    """The config keys whose values differ between runs -> each run's value ("" if unset)."""
    flat = []
    for record in records:
        out: dict[str, str] = {}
        _flatten(record.config, "", out)
        flat.append(out)
    keys = sorted({key for one in flat for key in one} - set(SAME_BY_DESIGN))
    return {
        key.replace(".init_args", ""): [one.get(key, "") for one in flat]
        for key in keys
        if len({one.get(key, "") for one in flat}) > 1
    }


def _number(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def table_rows(records: list[RunRecord], notes: bool = True) -> list[list[str]]:
    """Header and one row per run; with `notes`, a `note` column when a run has a broken file."""
    monitors = sorted({r.monitor for r in records if r.monitor})
    best = f"best {monitors[0]}" if len(monitors) == 1 else "best"
    tests = sorted({key for r in records for key in r.test})
    differing = differing_keys(records)
    noted = notes and any(r.notes for r in records)
    header = ["version", "status", "epochs", best, *tests, "wall_s", "git", *differing]
    rows = [header + ["note"] * noted]
    for i, r in enumerate(records):
        row = [r.path.name, r.status, "" if r.epochs is None else str(r.epochs)]
        row.append(_number(r.best) if len(monitors) <= 1 else f"{r.monitor}={_number(r.best)}")
        row += [_number(r.test.get(key)) for key in tests]
        row += [_number(r.wall_s, 0), r.git_sha or ""]
        row += [values[i] for values in differing.values()]
        rows.append(row + ["; ".join(r.notes)] * noted)
    return rows


def write_csv(rows: list[list[str]], path: Path) -> None:
    """Write the table as CSV, making the missing folders; a ConfigError if it cannot."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as file:
            csv.writer(file).writerows(rows)
    except OSError as error:
        where = f": {error.filename}" if error.filename else ""
        raise ConfigError(f"--csv {path}: cannot be written ({error.strerror}{where})") from None


def newest_experiment(root: Path) -> Path | None:
    """The experiment folder under `root` holding the most recently changed run."""
    runs = [
        run for experiment in root.iterdir() if experiment.is_dir() for run in run_dirs(experiment)
    ]
    return max(runs, key=lambda run: run.stat().st_mtime).parent if runs else None


def main(argv: list[str] | None = None) -> None:
    """Print the table of an experiment's runs (and write it as CSV with --csv)."""
    parser = argparse.ArgumentParser(prog="compare.py", description=__doc__.splitlines()[0])
    parser.add_argument("experiment", nargs="?", type=Path, help="logs/<name> (default: newest)")
    parser.add_argument("--csv", type=Path, help="Also write the table to this CSV file.")
    args = parser.parse_args(argv)
    experiment = args.experiment
    if experiment is None:
        experiment = newest_experiment(Path("logs")) if Path("logs").is_dir() else None
        if experiment is None:
            parser.exit(2, "error: no runs under logs/; name an experiment folder\n")
    if not experiment.is_dir() or not (runs := run_dirs(experiment)):
        parser.exit(2, f"error: {experiment} holds no run directories (logs/<name>/<version>/)\n")
    records = [read_run(run) for run in runs]
    print(f"{experiment}: {len(runs)} run(s)")
    print(text_table(table_rows(records, notes=False)))
    for record in records:
        for note in record.notes:
            print(f"note: {record.path.name}: {note}")
    if args.csv:
        try:
            write_csv(table_rows(records), args.csv)
        except ConfigError as error:
            parser.exit(2, f"error: {error}\n")
        print(f"Written to {args.csv}")

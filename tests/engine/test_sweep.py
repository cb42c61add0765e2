"""Optuna sweeps: trials are run directories; bad spaces, pruning, resume, PostgreSQL workers."""

import contextlib
import csv
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import optuna
import pytest
import yaml

from helpers import read_json, run_main, start_script, wait_for

#: A trial: 2 epochs of 3 training batches and 2 validation batches.
TINY_TRIAL = {
    "trainer.max_epochs": 2,
    "trainer.limit_train_batches": 3,
    "trainer.limit_val_batches": 2,
}
LR = "model.init_args.optimizer.init_args.lr"


def sweep_file(tmp_path: Path, **changes) -> Path:
    """A small sweep file in `tmp_path` (trials under `tmp_path/logs/t/`)."""
    sweep = {
        "name": "t",
        "configs": ["tests/configs/toy_data.yaml", "tests/configs/toy_model.yaml"],
        "root": str(tmp_path / "logs"),
        "n_trials": 2,
        "overrides": TINY_TRIAL,
        "params": {
            LR: {"type": "float", "low": 1e-3, "high": 1e-2, "log": True},
            "model.init_args.net.init_args.channels": {
                "type": "categorical",
                "choices": [[8, 16], [16, 32]],
            },
        },
    }
    sweep.update(changes)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return path


def start_sweep(*args: str) -> subprocess.Popen:
    """Start `python src/sweep.py ARGS` in a subprocess."""
    return start_script("sweep.py", *args)


def run_sweep(*args: str) -> tuple[int, str, str]:
    """Run a sweep to the end; return its exit code, stdout and stderr."""
    process = start_sweep(*args)
    out, err = process.communicate(timeout=600)
    return process.returncode, out, err


def trials_csv(folder: Path) -> list[dict]:
    """The rows of a sweep's trials.csv."""
    with (folder / "trials.csv").open() as file:
        return list(csv.DictReader(file))


def test_params_are_named_by_their_shortest_unique_ending():
    from runforge.many.sweeps.space import short_names

    keys = [LR, "model.init_args.net.init_args.lr", "data.init_args.batch_size"]
    assert list(short_names(keys).values()) == ["optimizer.lr", "net.lr", "batch_size"]


def test_the_baseline_is_the_configs_values_only_when_all_lie_in_the_space():
    from runforge.many.sweeps.space import Param, Sweep, baseline_params

    space = {
        LR: Param("float", 1e-4, 1e-2, log=True),
        "a.layers": Param("int", 1, 9, step=2),
        "a.channels": Param("categorical", choices=[[16, 32], [32, 64]]),
    }
    sweep = Sweep(name="t", configs=[], params=space)
    recipe = {LR: 0.003, "a.layers": 5, "a.channels": [32, 64]}
    assert baseline_params(sweep, recipe) == {"lr": 0.003, "layers": 5, "channels": "[32, 64]"}
    for key, outside in ((LR, 0.03), ("a.layers", 4), ("a.channels", [8, 16]), (LR, "x")):
        assert baseline_params(sweep, {**recipe, key: outside}) is None, (key, outside)


DROPOUT = "model.init_args.net.init_args.dropout"
#: The space of an existing study in the joined-study cases: the learning rate alone.
LR_ONLY = {LR: {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}}


def existing_study(tmp_path: Path, **changes) -> str:
    """A study made by a sweep file with `changes`, in a storage beside the runs' root."""
    from runforge.many import sweep

    url = f"sqlite:///{tmp_path / 'other' / 'study.db'}"
    (tmp_path / "other").mkdir()
    made = sweep.parse(["-c", str(sweep_file(tmp_path, **changes)), "--storage", url])
    with warnings.catch_warnings():  # heartbeat_interval: experimental in name only
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sweep.open_study(made, sweep.open_storage(made))
    return url


@pytest.mark.parametrize(
    ("changes", "first", "expected"),
    [
        ({"params": {}}, None, "params: the search space is empty"),
        (
            {"params": {LR: {"type": "float", "low": 0.1, "high": 0.01}}},
            None,
            f"params.{LR}: a float range needs low < high",
        ),
        (
            {"params": {LR: {"type": "float", "low": 0.0, "high": 0.1, "log": True}}},
            None,
            "a log scale needs low > 0",
        ),
        (
            {"params": {LR: {"type": "categorical", "choices": []}}},
            None,
            "needs a non-empty `choices` list",
        ),
        (
            {"params": {f"{LR}r": {"type": "float", "low": 0.1, "high": 1}}},
            None,
            f"params.{LR}r: no such key",
        ),
        (
            {
                "params": {
                    "data.init_args.batch_size": {"type": "categorical", "choices": [32, "x"]}
                }
            },
            None,
            "params: the values {'data.init_args.batch_size': 'x'} are refused",
        ),
        (
            {"params": {"data.init_args.batch_size": {"type": "categorical", "choices": [0, 32]}}},
            None,
            "params: the values {'data.init_args.batch_size': 0} are refused: the configured "
            "classes could not be built: batch_size must be >= 1, got 0",
        ),
        (
            {"params": {**LR_ONLY, DROPOUT: {"type": "float", "low": 0.0, "high": 3.0}}},
            None,
            f"params: the values {{'{DROPOUT}': 3.0}} are refused: the configured classes could "
            "not be built: dropout probability has to be between 0 and 1, but got 3.0",
        ),
        (
            {"name": "../../x"},
            None,
            "error: name='../../x' must be a plain folder name: not blank, no '/'",
        ),
        (
            {"monitor": "val/accuracy", "params": LR_ONLY},
            None,
            "monitor 'val/accuracy' is not logged by a validation step of the configs "
            "tests/configs/toy_data.yaml tests/configs/toy_model.yaml with the sweep's overrides "
            "(logged: val/acc, val/acc_best, val/loss); set `monitor` to one of them",
        ),
        (
            {"params": LR_ONLY, "direction": "minimize"},
            {"params": LR_ONLY},
            "name 't': the study of that name was made for another objective or search space "
            "(direction: 'maximize' in the study, 'minimize' here); a study keeps its own, so "
            "give this sweep another `name` (e.g. --name t-2)",
        ),
        (
            {"params": LR_ONLY, "monitor": "val/loss"},
            {"params": LR_ONLY},
            "(monitor: 'val/acc' in the study, 'val/loss' here)",
        ),
        (
            {"params": {**LR_ONLY, DROPOUT: {"type": "float", "low": 0.0, "high": 0.5}}},
            {"params": LR_ONLY},
            f"(params.{DROPOUT}: absent in the study, {{'type': 'float', 'low': 0.0, "
            "'high': 0.5} here)",
        ),
    ],
    ids=[
        "empty",
        "low-above-high",
        "log-from-0",
        "no-choices",
        "no-such-key",
        "choice-not-an-int",
        "batch-size-0",
        "dropout-3",
        "name-outside-the-root",
        "monitor-not-logged",
        "joined-another-direction",
        "joined-another-monitor",
        "joined-another-space",
    ],
)
def test_a_bad_search_space_is_one_error_before_any_trial(
    tmp_path, capsys, changes, first, expected
):
    """Refused before any trial: one line, exit 2, and nothing written anywhere.

    `first`: the changes of a sweep file whose study already exists under the same name.
    """
    from runforge.many import sweep

    storage = {} if first is None else {"storage": existing_study(tmp_path, **first)}
    path = sweep_file(tmp_path, **changes, **storage)
    before = sorted(tmp_path.parent.rglob("*"))  # `../../x` would write beside tmp_path
    with pytest.raises(SystemExit) as exit_info:
        sweep.main(["-c", str(path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err
    assert sorted(tmp_path.parent.rglob("*")) == before, "nothing is written for a refused sweep"
    if first is not None:  # the existing study is left as it was
        study = optuna.load_study(study_name="t", storage=storage["storage"])
        assert study.trials == [] and study.user_attrs["sweep"]["monitor"] == "val/acc"
        assert study.direction == optuna.study.StudyDirection.MAXIMIZE


def test_a_study_made_before_studies_were_tied_is_checked_on_its_direction_then_tied(tmp_path):
    from runforge.errors import ConfigError
    from runforge.many import sweep
    from runforge.many.sweeps.study import objective, tie_study

    made = sweep.parse(["-c", str(sweep_file(tmp_path, params=LR_ONLY))])
    untied = optuna.create_study(study_name="t", direction="minimize")
    with pytest.raises(
        ConfigError, match=r"\(direction: 'minimize' in the study, 'maximize' here\)"
    ):
        tie_study(untied, made)
    assert untied.user_attrs == {}, "a refused study is left as it was"
    untied = optuna.create_study(study_name="t", direction="maximize")
    tie_study(untied, made)
    assert (
        untied.user_attrs["sweep"]
        == objective(made)
        == {
            "direction": "maximize",
            "monitor": "val/acc",
            "params": {LR: {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}},
        }
    )


def test_a_log_range_is_sampled_on_a_log_scale():
    """Optuna records a log distribution, and the values spread evenly over the decades."""
    from optuna.distributions import FloatDistribution, IntDistribution

    from runforge.many.sweeps.space import Param, suggest

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    lrs, widths = [], []
    for _ in range(400):
        trial = study.ask()
        lrs.append(suggest(trial, "lr", Param("float", 1e-4, 1.0, log=True)))
        widths.append(suggest(trial, "width", Param("int", 1, 10_000, log=True)))
        assert trial.distributions == {
            "lr": FloatDistribution(1e-4, 1.0, log=True),
            "width": IntDistribution(1, 10_000, log=True),
        }
    # Half of each range lies below its geometric midpoint on a log scale; 1 % uniformly.
    assert 0.4 < sum(lr < 1e-2 for lr in lrs) / len(lrs) < 0.6
    assert 0.4 < sum(width < 100 for width in widths) / len(widths) < 0.6


#: A trial as small as a fit gets: one epoch of 2 training batches and 1 validation batch.
SMALLEST_TRIAL = {
    "trainer.max_epochs": 1,
    "trainer.limit_train_batches": 2,
    "trainer.limit_val_batches": 1,
}


def crash_in(monkeypatch, *versions: str) -> None:
    """Make the training step of the trials `versions` (all: none given) raise, as a bug would."""
    from runforge.tasks import ImageClassifier

    original = ImageClassifier.training_step

    def training_step(self, batch, batch_idx):
        if not versions or Path(self.trainer.default_root_dir).name in versions:
            raise ZeroDivisionError("a bug in training_step")
        return original(self, batch, batch_idx)

    monkeypatch.setattr(ImageClassifier, "training_step", training_step)


@contextlib.contextmanager
def lightning_lines():
    """Collect the lines Lightning logs (device banner, seed, notes) while the block runs."""
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield lines
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def test_a_crashed_trial_is_failed_everywhere_and_never_the_best(tmp_path, monkeypatch, capsys):
    """Trial 0 crashes in its first training step (a bug), trial 1 completes."""
    from runforge.many import compare, sweep
    from runforge.records.read_run import read_run

    crash_in(monkeypatch, "trial-0000")
    path = sweep_file(
        tmp_path, params=LR_ONLY, overrides=SMALLEST_TRIAL, monitor="val/loss", direction="minimize"
    )
    sweep.main(["-c", str(path)])
    out, err = capsys.readouterr()
    assert "ZeroDivisionError: a bug in training_step" in err, "a bug keeps its traceback"
    assert "Trial 0: failed (traceback above)" in out
    folder = tmp_path / "logs" / "t"
    study = optuna.load_study(study_name="t", storage=f"sqlite:///{folder / 'study.db'}")
    fail, complete = optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE
    assert [t.state for t in study.trials] == [fail, complete]
    rows = trials_csv(folder)
    assert [(row["state"], row["value"]) for row in rows] == [
        ("fail", ""),
        ("complete", str(study.trials[1].value)),
    ]
    assert read_json(folder / "trial-0000" / "sweep_trial.json")["state"] == "fail"
    assert (folder / "best.yaml").read_text().startswith("# Best trial 1 of sweep t:")
    assert study.best_trial.number == 1

    # The run table's best column is the sweep's monitor, as the trial reported it.
    record = read_json(folder / "trial-0001" / "sweep_trial.json")
    assert (record["monitor"], record["direction"]) == ("val/loss", "minimize")
    table = compare.table_rows([read_run(run) for run in sorted(folder.glob("trial-*"))])
    assert table[0][3] == "best val/loss", "not the ModelCheckpoint's val/acc"
    assert [row[3] for row in table[1:]] == ["", f"{study.trials[1].value:.4f}"]


def test_a_sweep_whose_every_trial_failed_exits_1(tmp_path, monkeypatch, capsys):
    from runforge.many import sweep

    crash_in(monkeypatch)
    path = sweep_file(tmp_path, params=LR_ONLY, overrides=SMALLEST_TRIAL, n_trials=1)
    with pytest.raises(SystemExit) as exit_info:
        sweep.main(["-c", str(path)])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (
        "error: every trial of sweep t failed (tracebacks above); fix the cause, then run the "
        "sweep under another `name`"
    )


def test_only_the_first_trial_of_a_worker_prints_the_start_up_lines(tmp_path, capsys):
    """The device banner, the seed and the model summary once; every trial's own lines."""
    from runforge.many import sweep

    path = sweep_file(tmp_path, params=LR_ONLY, overrides=SMALLEST_TRIAL)
    with lightning_lines() as lines:
        sweep.main(["-c", str(path)])
    out = capsys.readouterr().out
    assert sum(line.startswith("GPU available:") for line in lines) == 1, lines
    assert sum(line.startswith("Seed set to") for line in lines) == 1, lines
    assert out.count("Total params") == 1, "the model summary of the first trial only"
    assert (
        out.count("Epoch 0/0 done") == 2 and "Trial 0: val/acc" in out and "Trial 1: val/acc" in out
    )
    config = (tmp_path / "logs" / "t" / "trial-0001" / "config.yaml").read_text()
    assert "RichModelSummary" in config, "quieted, not dropped: config.yaml records what ran"


@pytest.mark.slow
def test_pruned_and_completed_trials_are_runs_with_results(tmp_path):
    """A good and a hopeless learning rate, each with two dropouts.

    The hopeless trials are pruned after epoch 1. (A value the configs refuse never gets
    this far, and a crashing trial is tested in-process.)
    """
    path = sweep_file(
        tmp_path,
        n_trials=4,
        params={
            LR: {"type": "categorical", "choices": [0.01, 1.0e-7]},
            DROPOUT: {"type": "categorical", "choices": [0.25, 0.1]},
        },
        sampler={"class_path": "optuna.samplers.BruteForceSampler", "init_args": {"seed": 0}},
        pruner={"class_path": "optuna.pruners.ThresholdPruner", "init_args": {"lower": 0.3}},
        overrides={**TINY_TRIAL, "trainer.limit_train_batches": 10},
        configs=[
            "tests/configs/toy_data.yaml",
            "tests/configs/toy_model.yaml",
            "configs/logger/csv.yaml",
        ],
    )
    code, out, err = run_sweep("-c", str(path))
    assert code == 0, err[-3000:]
    folder = tmp_path / "logs" / "t"
    everything = {(float(row["lr"]), float(row["dropout"])): row for row in trials_csv(folder)}
    assert {key: row["state"] for key, row in everything.items()} == {
        (0.01, 0.25): "complete",
        (1e-7, 0.25): "pruned",
        (0.01, 0.1): "complete",
        (1e-7, 0.1): "pruned",
    }
    assert "Warning:" not in err, "a sweep's console has no warning a user cannot act on"
    assert out.count("Total params") == 1 and err.count("GPU available") == 1, "first trial only"
    assert "No baseline trial: the configs' own values (dropout=0.25, lr=0.003)" in out
    rows = {lr: everything[(lr, 0.25)] for lr in (0.01, 1e-7)}
    good, bad = Path(rows[0.01]["run_dir"]), Path(rows[1e-7]["run_dir"])
    assert float(rows[0.01]["value"]) > 0.3
    for run, state in ((good, "complete"), (bad, "pruned")):
        assert (run / "config.yaml").is_file() and (run / "provenance.json").is_file()
        assert (run / "checkpoints" / "last.ckpt").is_file() or state == "pruned"
        assert read_json(run / "sweep_trial.json")["state"] == state
        hparams = yaml.safe_load((run / "csv" / "hparams.yaml").read_text())
        assert hparams["sweep/lr"] == (0.01 if run == good else 1e-7), "params reach loggers"
    config = yaml.safe_load((good / "config.yaml").read_text())
    assert config["model"]["init_args"]["optimizer"]["init_args"]["lr"] == 0.01
    assert "Trial" not in str(config["trainer"]["callbacks"]), (
        "the pruning callback is the driver's"
    )
    for plot in ("optimization_history.png", "parallel_coordinate.png", "param_importances.png"):
        assert (folder / plot).stat().st_size > 10_000

    # best.yaml is a full config that trains the best trial again as a new run.
    best = yaml.safe_load((folder / "best.yaml").read_text())
    assert best["run"] == {"root": str(tmp_path / "logs"), "name": "t-best", "version": None}
    done = run_main("fit", "-c", str(folder / "best.yaml"))
    assert done.returncode == 0, done.stderr[-3000:]
    [rerun] = (tmp_path / "logs" / "t-best").iterdir()
    complete = [row for row in everything.values() if row["state"] == "complete"]
    best_run = Path(max(complete, key=lambda row: float(row["value"]))["run_dir"])
    best_config = yaml.safe_load((best_run / "config.yaml").read_text())
    assert yaml.safe_load((rerun / "config.yaml").read_text())["model"] == best_config["model"]


@pytest.mark.slow
def test_trial_zero_trains_the_recipe_as_configured(tmp_path):
    """The baseline: the configs' own lr and channels first, then the sampler's."""
    channels = "model.init_args.net.init_args.channels"
    params = {
        LR: {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        channels: {"type": "categorical", "choices": [[8, 16], [16, 32]]},
    }
    path = sweep_file(tmp_path, params=params)
    code, out, err = run_sweep("-c", str(path))
    assert code == 0, err[-3000:]
    first, second = trials_csv(tmp_path / "logs" / "t")
    assert (float(first["lr"]), first["channels"]) == (0.003, "[8, 16]"), "toy_model.yaml's"
    assert (float(second["lr"]), second["channels"]) != (0.003, "[8, 16]")
    assert "No baseline trial" not in out


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_sweep_continues_to_n_trials(tmp_path, signum):
    path = sweep_file(tmp_path, n_trials=3, overrides={**TINY_TRIAL, "trainer.max_epochs": 6})
    folder = tmp_path / "logs" / "t"
    process = start_sweep("-c", str(path))
    # Trial 1 has trained an epoch (its signal handlers are in place) and has 5 to go.
    wait_for(folder / "trial-0001" / "checkpoints" / "last.ckpt", process)
    first = (folder / "trial-0000" / "config.yaml").read_text()
    assert [row["state"] for row in trials_csv(folder)] == ["complete"], "written per trial"
    process.send_signal(signum)
    out, _ = process.communicate(timeout=300)
    assert process.returncode != 0
    if signum == signal.SIGTERM:  # the driver marks its trial itself
        assert "Trial 1: interrupted" in out

    code, out, err = run_sweep("-c", str(path))
    assert code == 0, err[-3000:]
    retried = "Trial 1: its worker was killed; marked failed and retried" in out
    assert retried == (signum == signal.SIGKILL)
    rows = trials_csv(folder)
    states = {int(row["number"]): row["state"] for row in rows}
    assert states == {0: "complete", 1: "interrupted", 2: "complete", 3: "complete"}
    assert rows[2]["lr"] == rows[1]["lr"], "trial 2 retried the params of trial 1"
    assert (folder / "trial-0000" / "config.yaml").read_text() == first, "trial 0 is not rerun"
    study = optuna.load_study(study_name="t", storage=f"sqlite:///{folder / 'study.db'}")
    assert study.trials[1].state == optuna.trial.TrialState.FAIL


@pytest.mark.slow
def test_a_trial_silent_on_another_machine_is_retried(tmp_path):
    """A worker of another machine that died: its trial's heartbeat stops."""
    path = sweep_file(
        tmp_path, n_trials=2, heartbeat_s=1, overrides={**TINY_TRIAL, "trainer.max_epochs": 6}
    )
    folder = tmp_path / "logs" / "t"
    process = start_sweep("-c", str(path))
    wait_for(folder / "trial-0000" / "checkpoints" / "last.ckpt", process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    url = f"sqlite:///{folder / 'study.db'}"
    storage = optuna.storages.RDBStorage(url)
    [running] = optuna.load_study(study_name="t", storage=storage).trials
    storage.set_trial_user_attr(running._trial_id, "worker", {"host": "elsewhere", "pid": 1})
    time.sleep(5)  # past the grace period of 4 heartbeats of 1 s

    code, out, err = run_sweep("-c", str(path))
    assert code == 0, err[-3000:]
    rows = trials_csv(folder)
    assert [row["state"] for row in rows] == ["interrupted", "complete", "complete"]
    assert rows[1]["lr"] == rows[0]["lr"] and rows[1]["channels"] == rows[0]["channels"]


def _postgres_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None


@pytest.fixture
def postgres():
    """A PostgreSQL server on a Unix socket in a temporary folder; yields its URL.

    The folder is made directly in the system's temp folder: the server runs as user
    `postgres` (initdb refuses root), which cannot enter pytest's private tmp folders.
    """
    binaries = _postgres_bin()
    if binaries is None or shutil.which("runuser") is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) or runuser are not installed")
    folder = Path(tempfile.mkdtemp(prefix="pg-"))
    data = folder / "data"
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    subprocess.run(
        [*as_postgres, binaries / "initdb", "-A", "trust", "-U", "postgres", "-D", data],
        check=True,
        capture_output=True,
    )
    options = f"-k {folder} -c listen_addresses=''"
    subprocess.run(
        [
            *as_postgres,
            binaries / "pg_ctl",
            "-D",
            data,
            "-o",
            options,
            "-w",
            "-l",
            folder / "server.log",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg2://postgres@/postgres?host={folder}"
    finally:
        subprocess.run(
            [*as_postgres, binaries / "pg_ctl", "-D", data, "-m", "fast", "stop"],
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_two_workers_on_postgresql_run_exactly_n_trials(tmp_path, postgres):
    path = sweep_file(tmp_path, n_trials=4)
    workers = [start_sweep("-c", str(path), "--storage", postgres) for _ in range(2)]
    results = [worker.communicate(timeout=600) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], [err[-6000:] for _, err in results]
    ran = [out.count("Trial ") for out, _ in results]
    assert all(ran), f"both workers ran trials: {ran}"

    study = optuna.load_study(study_name="t", storage=postgres)
    assert [t.number for t in study.trials] == [0, 1, 2, 3]
    assert {t.state for t in study.trials} == {optuna.trial.TrialState.COMPLETE}
    params = {(t.params["lr"], t.params["channels"]) for t in study.trials}
    assert len(params) == 4, "each trial sampled its own values"
    folder = tmp_path / "logs" / "t"
    runs = sorted(p.name for p in folder.iterdir() if p.is_dir())
    assert runs == [f"trial-000{n}" for n in range(4)]
    for n, trial in enumerate(study.trials):
        assert read_json(folder / runs[n] / "sweep_trial.json")["value"] == trial.value
    assert not (folder / "study.db").exists(), "the given storage is used"

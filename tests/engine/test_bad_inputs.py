"""Every bad input is one `error:` line naming the culprit, exit code 2, and no run directory.

One parametrized matrix through the real CLI (`cli.main`, in-process for speed): config
files, checkpoints, run names and roots, trainer and data values.
"""

import os
import pickle
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch

from helpers import ROOT, TINY, TOY
from runforge.cli.cli import main
from runforge.runs.command_line import check_command_line

# ruff: noqa: E501  (the table of cases below reads best one case a line)
MARKER = "payload-ran"
#: The test project's configs by absolute path (the tests run in their own folder).
RECIPE = [str(ROOT / arg) if arg.endswith(".yaml") else arg for arg in TOY]


class Payload:
    """A pickle that would create a file when unpickled."""

    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


def _write(name: str, content: bytes | str):
    """A file maker: `content` written into the test folder as `name`."""

    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    return make


def _checkpoint(kind: str):
    def make(folder: Path) -> Path:
        path = folder / f"{kind}.ckpt"
        state = {"state_dict": {"w": torch.zeros(2)}, "epoch": 0, "global_step": 0}
        if kind == "truncated":
            torch.save({**state, "big": torch.zeros(10_000)}, path)
            path.write_bytes(path.read_bytes()[:5000])
        elif kind == "zip_payload":
            torch.save({**state, "evil": Payload()}, path)
        elif kind == "legacy_payload":
            torch.save({**state, "evil": Payload()}, path, _use_new_zipfile_serialization=False)
        elif kind == "raw_pickle":
            path.write_bytes(pickle.dumps({"evil": Payload()}))
        elif kind == "foreign_weights":  # safe to load, but not this model's tensors
            torch.save(state, path)
        elif kind == "forbidden_hparams":
            hparams = {"net": torch.nn.Linear, "lr": 0.1}
            torch.save({**state, "hyper_parameters": hparams}, path)
        return path

    return make


#: (id, extra arguments, files to make (a name -> path placeholder), text the error names)
CASES = [
    # config files
    ("config-random-bytes", ["-c", "{f}"], _write("random.yaml", bytes(range(256)) * 4), "random.yaml"),
    ("config-latin1", ["-c", "{f}"], _write("latin1.yaml", "trainer:\n  max_epochs: 1 # caf\xe9\n".encode("latin-1")), "latin1.yaml"),
    ("config-empty", ["-c", "{f}"], _write("empty.yaml", ""), "empty.yaml"),
    ("config-missing", ["-c", "{tmp}/missing.yaml"], None, "missing.yaml"),
    ("config-a-list", ["-c", "{f}"], _write("list.yaml", "- 1\n- 2\n"), "list.yaml"),
    ("config-bad-yaml", ["-c", "{f}"], _write("broken.yaml", "trainer: [1, 2\n"), "broken.yaml"),
    ("config-unknown-key", ["-c", "{f}"], _write("unknown.yaml", "trainer:\n  max_epoch: 3\n"), "max_epoch"),
    # checkpoints
    ("ckpt-empty", ["--ckpt_path", "{f}"], _write("empty.ckpt", b""), "empty.ckpt"),
    ("ckpt-truncated", ["--ckpt_path", "{f}"], _checkpoint("truncated"), "truncated.ckpt"),
    ("ckpt-text", ["--ckpt_path", "{f}"], _write("notes.ckpt", "just some notes\n"), "notes.ckpt"),
    ("ckpt-zip-payload", ["--ckpt_path", "{f}"], _checkpoint("zip_payload"), "zip_payload.ckpt"),
    ("ckpt-legacy-payload", ["--ckpt_path", "{f}"], _checkpoint("legacy_payload"), "legacy_payload.ckpt"),
    ("ckpt-raw-pickle", ["--ckpt_path", "{f}"], _checkpoint("raw_pickle"), "raw_pickle.ckpt"),
    ("ckpt-forbidden-hparams", ["--ckpt_path", "{f}"], _checkpoint("forbidden_hparams"), "forbidden_hparams.ckpt"),
    ("ckpt-foreign-weights", ["--ckpt_path", "{f}"], _checkpoint("foreign_weights"), "w is not in the model"),
    ("ckpt-missing", ["--ckpt_path", "{tmp}/nothing.ckpt"], None, "nothing.ckpt"),
    ("ckpt-folder", ["--ckpt_path", "{tmp}"], None, "--ckpt_path"),
    ("ckpt-last-no-run", ["--ckpt_path", "last"], None, "last"),
    ("ckpt-best-no-run", ["--ckpt_path", "best"], None, "best"),
    # run names and roots
    ("name-whitespace", ["--run.name", "   "], None, "run.name"),
    ("name-newline", ["--run.name", "a\nb"], None, "run.name"),
    ("name-control-char", ["--run.name", "bell\x07"], None, "run.name"),
    ("name-too-long", ["--run.name", "n" * 300], None, "run.name"),
    ("name-slash", ["--run.name", "a/b"], None, "run.name"),
    ("name-dotdot", ["--run.name", ".."], None, "run.name"),
    ("version-whitespace", ["--run.version", " \t "], None, "run.version"),
    ("version-newline", ["--run.version", "v\n1"], None, "run.version"),
    ("version-too-long", ["--run.version", "v" * 256], None, "run.version"),
    ("version-too-long-utf8", ["--run.version", "\u00e9" * 130], None, "run.version"),
    ("root-a-file", ["--run.root", "{f}"], _write("a_file", "x"), "run.root"),
    ("root-empty", ["--run.root", ""], None, "run.root"),
    ("root-dot", ["--run.root", "."], None, "run.root"),
    ("root-unwritable", ["--run.root", "/proc/no_runs_here"], None, "run.root"),
    # trainer and data values
    ("accumulate-0", ["--trainer.accumulate_grad_batches", "0"], None, "accumulate_grad_batches"),
    ("accumulate-negative", ["--trainer.accumulate_grad_batches", "-2"], None, "accumulate_grad_batches"),
    ("val-check-interval-beyond-epoch", ["--trainer.val_check_interval", "1000"], None, "val_check_interval"),
    ("val-check-interval-beyond-whole-epoch", ["--trainer.limit_train_batches", "1.0", "--trainer.val_check_interval", "1000"], None, "val_check_interval"),
    ("num-workers-negative", ["--data.num_workers", "-1"], None, "num_workers"),
    ("max-epochs-0", ["--trainer.max_epochs", "0"], None, "max_epochs"),
    ("max-epochs-negative", ["--trainer.max_epochs", "-5"], None, "max_epochs"),
    ("limit-train-0", ["--trainer.limit_train_batches", "0"], None, "limit_train_batches"),
    ("limit-train-negative", ["--trainer.limit_train_batches", "-1"], None, "limit_train_batches"),
    ("clip-negative", ["--trainer.gradient_clip_val", "-1"], None, "gradient_clip_val"),
    ("check-val-every-0", ["--trainer.check_val_every_n_epoch", "0"], None, "check_val_every_n_epoch"),
    ("max-steps-negative", ["--trainer.max_steps", "-2"], None, "max_steps"),
    ("batch-size-0", ["--data.batch_size", "0"], None, "batch_size"),
    ("val-fraction-1.5", ["--data.val_fraction", "1.5"], None, "val_fraction"),
    ("num-folds-1", ["--data.num_folds", "1"], None, "num_folds"),
    ("num-folds-beyond-a-class", ["--data.num_folds", "5000"], None, "num_folds"),
    ("fold-beyond-num-folds", ["--data.num_folds", "3", "--data.fold", "3"], None, "fold"),
    ("max-epochs-text", ["--trainer.max_epochs", "abc"], None, "max_epochs"),
    ("unknown-flag", ["--trainer.no_such_option", "3"], None, "no_such_option"),
    ("precision-unknown", ["--trainer.precision", "13"], None, "precision"),
    ("lr-negative", ["--model.optimizer.lr", "-1"], None, "model.optimizer"),
    ("seed-text", ["--seed_everything", "abc"], None, "seed_everything"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "args", "make", "named"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_input_is_one_line_exit_2_and_no_run_directory(
    tmp_path, monkeypatch, capsys, case, args, make, named
):
    files = tmp_path / "inputs"
    files.mkdir()
    logs = tmp_path / "logs"
    monkeypatch.chdir(tmp_path)  # a payload would write here; `.` as root would land here
    made = make(files) if make else None
    args = [a.format(f=made, tmp=files) for a in args]
    root = [] if "--run.root" in args else ["--run.root", str(logs)]
    with mock.patch.object(sys, "argv", ["src/main.py"]), pytest.raises(SystemExit) as stopped:
        main(["fit", *RECIPE, *TINY, *root, *args])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert stopped.value.code == 2, err[-3000:]
    assert len(errors) == 1, err[-3000:]
    assert "Traceback" not in err
    assert named in errors[0], errors[0]
    assert not (tmp_path / MARKER).exists(), "the checkpoint's payload ran"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs"], "a folder was left behind"


def test_a_key_given_twice_in_a_config_file_is_a_warning(tmp_path):
    twice = tmp_path / "twice.yaml"
    twice.write_text("trainer:\n  max_epochs: 1\n  max_epochs: 2\n")
    with pytest.warns(UserWarning, match=r"twice.yaml: key 'max_epochs' is given twice \(line 3\)"):
        check_command_line(["fit", "-c", str(twice)])


def test_a_one_step_run_finishes_cleanly(tmp_path):
    """`max_steps 1` stops mid-epoch before any validation; EarlyStopping must not fail it."""
    logs = tmp_path / "logs"
    with mock.patch.object(sys, "argv", ["src/main.py"]):
        main(["fit", *RECIPE, "--run.root", str(logs), "--trainer.max_steps", "1"])
    [run] = logs.glob("*/*")
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 1


#: Every slot a config fills with a class path, and (a word of) the base class it takes.
SLOTS = [
    ("--model.init_args.optimizer", "model.init_args.optimizer", "Optimizer"),
    ("--model.init_args.lr_scheduler", "model.init_args.lr_scheduler", "LRScheduler"),
    ("--model.init_args.net", "model.init_args.net", "Module"),
    ("--model.init_args.metrics.f1", "model.init_args.metrics.f1", "Metric"),
    ("--data", "data", "LightningDataModule"),
    ("--data.init_args.augment+", "data.init_args.augment[0]", "a class"),
    ("--data.init_args.eval_sets.more", "data.init_args.eval_sets", "InMemoryImageDataModule"),
    ("--trainer.callbacks+", "trainer.callbacks", "Callback"),
    ("--trainer.logger+", "trainer.logger", "Logger"),
    ("--trainer.plugins+", "trainer.plugins", "CheckpointIO"),
]
#: Callables that would run a command or code if a class path could name them.
HOSTILE = {"os.system": "command", "builtins.exec": "source"}


@pytest.mark.parametrize("function", list(HOSTILE))
@pytest.mark.parametrize(("flag", "key", "base"), SLOTS, ids=[s[1] for s in SLOTS])
def test_a_class_path_outside_its_slot_is_refused_before_anything_runs(
    tmp_path, monkeypatch, capsys, flag, key, base, function
):
    monkeypatch.chdir(tmp_path)
    code = f"touch {MARKER}" if function == "os.system" else f"open('{MARKER}', 'w')"
    value = f'{{"class_path": "{function}", "init_args": {{"{HOSTILE[function]}": "{code}"}}}}'
    args = ["fit", *RECIPE, *TINY, "--run.root", str(tmp_path / "logs"), f"{flag}={value}"]
    with mock.patch.object(sys, "argv", ["src/main.py"]), pytest.raises(SystemExit) as stopped:
        main(args)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert stopped.value.code == 2 and len(errors) == 1, err[-3000:]
    assert f"error: {key}: {function} is " in errors[0], errors[0]
    assert base in errors[0], errors[0]
    assert not (tmp_path / MARKER).exists(), "the class path was called"
    assert not (tmp_path / "logs").exists(), "nothing is written"


@pytest.mark.parametrize("subcommand", ["test", "validate", "predict"])
def test_best_next_to_a_hostile_last_checkpoint_is_one_line_and_runs_nothing(
    tmp_path, monkeypatch, capsys, subcommand
):
    """`--ckpt_path best` reads last.ckpt to find the best one: safely, or not at all."""
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "logs" / "default" / "v1"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("run: {version: v1}\n")
    _checkpoint("zip_payload")(run / "checkpoints").rename(run / "checkpoints" / "last.ckpt")
    args = [subcommand, *RECIPE, "--run.root", str(tmp_path / "logs"), "--run.version", "v1"]
    with mock.patch.object(sys, "argv", ["src/main.py"]), pytest.raises(SystemExit) as stopped:
        main([*args, "--ckpt_path", "best"])
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert stopped.value.code == 2 and len(errors) == 1, errors
    last = run / "checkpoints" / "last.ckpt"
    named = f"--ckpt_path best: {last} (which names the best checkpoint): it holds Python"
    assert named in errors[0], errors
    assert not (tmp_path / MARKER).exists(), "the checkpoint's payload ran"
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "config.yaml"]

"""k-fold cross-validation: stratified folds of the train part, kfold.py runs and summary."""

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback
from toy import Bars

from helpers import TOY, cli_error, read_json, start_script
from runforge.data.folds import TooManyFolds, fold_split
from runforge.data.in_memory import InMemoryImageDataModule
from runforge.runs.directory import run_dir

FOLDS = 3
#: One fold: 3 epochs of 3 training batches.
TINY_FOLD = ["--trainer.max_epochs", "3", "--trainer.limit_train_batches", "3"]


def test_folds_are_stratified_disjoint_and_cover_the_train_part():
    labels = torch.arange(10).repeat_interleave(30)[torch.randperm(300)]
    vals = [fold_split(labels, 5, k, seed=1)[1] for k in range(5)]
    assert sorted(torch.cat(vals).tolist()) == list(range(300)), "every index in exactly one fold"
    for k, val in enumerate(vals):
        train, _ = fold_split(labels, 5, k, seed=1)
        assert set(train.tolist()) == set(range(300)) - set(val.tolist())
        assert torch.bincount(labels[val], minlength=10).tolist() == [6] * 10, "stratified"
    assert torch.equal(fold_split(labels, 5, 0, seed=1)[1], vals[0]), "seeded"
    assert not torch.equal(fold_split(labels, 5, 0, seed=2)[1], vals[0])


def test_folds_leave_the_test_part_alone():
    plain = Bars()
    plain.setup()
    train_size = len(plain.datasets["train"]) + len(plain.datasets["val"])
    seen = []
    for fold in range(FOLDS):
        data = Bars(num_folds=FOLDS, fold=fold)
        data.setup()
        assert torch.equal(data.datasets["test"].images, plain.datasets["test"].images)
        assert len(data.datasets["train"]) + len(data.datasets["val"]) == train_size
        seen.append(data.datasets["val"].labels)
    assert sum(len(v) for v in seen) == train_size, (
        "the folds' validation parts tile the train part"
    )


class GivenValSplit(InMemoryImageDataModule):
    """A data module whose files come with their own val part (like an image folder)."""

    num_classes = 2
    input_shape = (1, 2, 2)

    def load(self):
        """40 train, 10 val and 6 test images, labels alternating 0/1."""
        parts = {}
        for split, size in (("train", 40), ("val", 10), ("test", 6)):
            labels = torch.arange(size) % 2
            parts[split] = (labels.view(-1, 1, 1, 1).expand(-1, 1, 2, 2).to(torch.uint8), labels)
        return parts


def test_folds_cut_a_given_val_part_together_with_the_train_part():
    data = GivenValSplit(num_folds=2, fold=0)
    data.setup()
    assert len(data.datasets["train"]) == 25 and len(data.datasets["val"]) == 25, "50 in 2 folds"
    assert sorted(torch.bincount(data.datasets["val"].labels).tolist()) == [12, 13]
    assert len(data.datasets["test"]) == 6


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_folds": 1}, "num_folds must be >= 2"),
        ({"num_folds": 3, "fold": 3}, "fold must be in 0..2"),
    ],
)
def test_bad_fold_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Bars(**kwargs)


def start_kfold(*args: str) -> subprocess.Popen:
    """Start `python src/kfold.py ARGS` in a subprocess (conftest lets it import this file)."""
    return start_script("kfold.py", *args)


def test_kfold_with_too_few_folds_is_one_error(tmp_path, capsys):
    from runforge.many import kfold

    with pytest.raises(SystemExit) as exit_info:
        kfold.main([*TOY, "--num_folds", "1", "--run.root", str(tmp_path)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == "error: --num_folds must be >= 2, got 1"
    assert not any(tmp_path.iterdir())


def test_a_class_with_fewer_images_than_folds_is_named():
    labels = torch.tensor([0] * 9 + [1] * 2 + [2] * 5)
    with pytest.raises(TooManyFolds) as refused:
        fold_split(labels, 3, 0, seed=0, class_names=["bar", "circle", "cross"])
    assert str(refused.value) == (
        "data.num_folds=3: class 'circle' has only 2 image(s) in the training part, fewer than "
        "the folds; give data.num_folds 2 or fewer (each fold holds every class)"
    )
    assert len(fold_split(labels, 2, 0, seed=0)[1]) == 8, "as many folds as images: fine"


def smallest_class() -> tuple[str, int]:
    """The class with the fewest images in the training part, and their number."""
    data = Bars()
    counts = torch.bincount(data.load()["train"][1])
    return data.class_names[int(counts.argmin())], int(counts.min())


@pytest.mark.parametrize("more", [1, 5000], ids=["one-more-than-the-smallest-class", "5000"])
def test_kfold_with_more_folds_than_images_of_a_class_is_one_error(tmp_path, capsys, more):
    from runforge.many import kfold

    name, count = smallest_class()
    num_folds = str(count + more if more == 1 else more)
    with pytest.raises(SystemExit) as exit_info:
        kfold.main([*TOY, "--num_folds", num_folds, "--run.root", str(tmp_path)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: --num_folds={num_folds}: class {name!r} has only {count} image(s) in the "
        f"training part, fewer than the folds; give --num_folds {count} or fewer (each fold "
        "holds every class)"
    )
    assert not any(tmp_path.iterdir()), "refused before any fold trains"


def test_fit_with_more_folds_than_images_of_a_class_is_one_error(tmp_path, capsys):
    name, count = smallest_class()
    error = cli_error(capsys, "fit", *TOY, "--data.num_folds", "5000", "--run.root", str(tmp_path))
    assert error.startswith(f"error: data.num_folds=5000: class {name!r} has only {count} image")
    assert not any(tmp_path.iterdir()), "no run directory is left"


class KillOnce(Callback):
    """SIGKILLs its own process at the first training batch of the run named `run`, once (the
    `marker` file remembers), as a preempted job dies: at that point, whatever the load."""

    def __init__(self, run: str, marker: str) -> None:
        self.run, self.marker = run, Path(marker)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        """Die here the first time."""
        if run_dir(trainer).name == self.run and not self.marker.exists():
            self.marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.slow
def test_an_interrupted_kfold_continues_and_summarises_every_fold(tmp_path):
    args = [*TOY, "--num_folds", str(FOLDS), "--run.root", str(tmp_path), "--run.name", "cv"]
    args += ["--trainer.callbacks+=test_kfold.KillOnce", "--trainer.callbacks.run=fold-1"]
    args += [f"--trainer.callbacks.marker={tmp_path / 'killed'}"]
    experiment = tmp_path / "cv"
    process = start_kfold(*args, *TINY_FOLD)
    process.communicate(timeout=600)
    assert process.returncode == -signal.SIGKILL, "killed in fold 1's first batch"
    assert (experiment / "fold-0" / "validate_metrics.json").is_file()
    assert not (experiment / "fold-1" / "validate_metrics.json").exists()

    process = start_kfold(*args, *TINY_FOLD)
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    assert "fold 0: done before, skipped" in out
    assert len(read_json(experiment / "fold-0" / "provenance.json")["entries"]) == 1

    summary = read_json(experiment / "cv_summary.json")
    assert summary["num_folds"] == FOLDS
    metrics = summary["metrics"]
    assert {"val/acc", "val/loss", "test/acc", "test/loss"} <= set(metrics)
    for key, entry in metrics.items():
        per_run = []
        for k in range(FOLDS):
            name = "test_metrics.json" if key.startswith("test/") else "validate_metrics.json"
            per_run.append(json.loads((experiment / f"fold-{k}" / name).read_text())[key])
        assert entry["values"] == per_run
        assert entry["mean"] == pytest.approx(sum(per_run) / FOLDS)
        assert entry["std"] == pytest.approx(torch.tensor(per_run).std().item())
    acc = metrics["test/acc"]
    assert f"{acc['mean']:.4f} ± {acc['std']:.4f}" in out
    table = out[out.rindex("mean ± std") :]
    assert "test/f1/0" in metrics and "test/f1/0" not in table, "per-class scores: JSON only"
    assert err.count("Warning:") == 1 and "UserWarning: took over" in err, "the lock left by -9"

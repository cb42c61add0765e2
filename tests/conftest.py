"""Shared fixtures: the project root, CLI runners (in-process and subprocess), small data."""

import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import GIT_IDENTITY, ROOT, TOY, git, only_run_dir, run_main, write_shapes_folder

#: Variables by which torchrun and srun tell their processes about the launch.
LAUNCHER_ENV = (
    "TORCHELASTIC_RUN_ID",
    "WORLD_SIZE",
    "SLURM_JOB_ID",
    "SLURM_STEP_ID",
    "SLURM_NTASKS",
    "SLURM_JOB_NAME",
    "SLURM_RESTART_COUNT",
)


def pytest_configure(config: pytest.Config) -> None:
    """Subprocesses (the CLI, scripts) import the engine's test project (tests/toy.py) too,
    and the callbacks that engine tests define in their own files (`test_signals.RecordBatches`)."""
    folders = [str(ROOT / "tests"), str(ROOT / "tests" / "engine"), os.environ.get("PYTHONPATH")]
    path = os.pathsep.join(filter(None, folders))
    os.environ["PYTHONPATH"] = path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that need the template's example `example`: those of tests/example/ and
    the generator's (tests/template/, which prunes the examples by name). `-m "not example"`
    is then the engine's suite alone."""
    folders = (ROOT / "tests" / "example", ROOT / "tests" / "template")
    for item in items:
        if any(folder in item.path.parents for folder in folders):
            item.add_marker(pytest.mark.example)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch):
    """Run every test from the project root with W&B offline and no inherited run version.

    Launcher variables (torchrun, SLURM) are removed too, so a suite started inside a SLURM
    job behaves as anywhere else. `sys.argv` is that of `python src/main.py`: pytest's own
    arguments there would make LightningCLI warn about a CLI built with `args`.
    """
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", ["src/main.py"])
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for name in ("RUN_VERSION", *LAUNCHER_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def git_repo(tmp_path, monkeypatch) -> Path:
    """A git repository with one commit (`train.py`), the template's ignores and an identity."""
    for key, value in GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text("data/*\nlogs/*\n.env\n")
    (repo / "train.py").write_text("LR = 0.1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    return repo


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A run of the test project trained once per session for 15 epochs through the real CLI."""
    logs = tmp_path_factory.mktemp("trained") / "logs"
    result = run_main("fit", *TOY, "--trainer.max_epochs", "15", "--run.root", str(logs))
    assert result.returncode == 0, result.stderr[-3000:]
    return only_run_dir(logs)


def _write_idx(path: Path, array: np.ndarray) -> None:
    """Write an array in MNIST's idx format (big-endian header, uint8 data)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory) -> Path:
    """A data dir holding small MNIST-format idx files (digits upscaled to 28x28): no download."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.kron(digits.images, np.ones((4, 4)))[:, 2:30, 2:30] * (255 / 16)
    images = np.pad(images, ((0, 0), (2, 2), (2, 2)))[:, :28, :28]
    labels = digits.target
    root = tmp_path_factory.mktemp("mnist")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    splits = {"train": (images[:600], labels[:600]), "t10k": (images[600:700], labels[600:700])}
    for prefix, (x, y) in splits.items():
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", x)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", y)
    return root


@pytest.fixture(scope="session")
def shapes_folder(tmp_path_factory) -> Path:
    """A user's image folder: 3 classes x 24 PNG/JPEG/WebP files (grey, RGB, RGBA), 1 corrupt."""
    root = write_shapes_folder(tmp_path_factory.mktemp("images") / "shapes")
    (root / "circle" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return root


@pytest.fixture(scope="session")
def shapes_run(shapes_folder, tmp_path_factory):
    """An image-folder fit with --test_after_fit, logging to TensorBoard, MLflow and W&B."""
    logs = tmp_path_factory.mktemp("shapes_run") / "logs"
    result = run_main(
        "fit", "-c", "configs/data/image_folder.yaml", "-c", "configs/model/simplenet.yaml",
        "-c", "configs/logger/mlflow.yaml", "-c", "configs/logger/wandb.yaml",
        "--data.root", str(shapes_folder), "--data.image_size", "32",
        "--data.augment", "null", "--data.cache_dir", str(logs.parent / "cache"),
        "--trainer.max_epochs", "6", "--data.batch_size", "8",
        "--run.root", str(logs), "--test_after_fit", "true",
        env={"WANDB_MODE": "offline"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = logs.glob("default/*")
    return run, result

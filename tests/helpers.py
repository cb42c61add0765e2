"""Helpers shared by the tests: run the CLI, find run directories, read files."""

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from runforge.data.in_memory import InMemoryImageDataModule

ROOT = Path(__file__).resolve().parents[1]
#: The engine's test project (tests/toy.py): its tests never depend on the template's example.
TOY = ["-c", "tests/configs/toy_data.yaml", "-c", "tests/configs/toy_model.yaml"]
#: The template's example (digits, SimpleNet): for the example's own tests only.
DIGITS = ["-c", "configs/data/digits.yaml", "-c", "configs/model/simplenet.yaml"]
#: A tiny fit: one epoch of two training batches and one validation batch.
TINY = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2"]
TINY += ["--trainer.limit_val_batches", "1"]
#: A git identity for commits made by tests (set in the environment only).
GIT_IDENTITY = {
    f"GIT_{who}_{field.upper()}": value
    for who in ("AUTHOR", "COMMITTER")
    for field, value in (("name", "Test"), ("email", "test@example.com"))
}


def run_main(*args: str, cwd: Path = ROOT, env: dict | None = None, timeout: int = 300):
    """Run `python src/main.py ARGS` in a subprocess; return the CompletedProcess."""
    inherited = {k: v for k, v in os.environ.items() if k != "RUN_VERSION"}
    full_env = {**inherited, "PYTHONWARNINGS": "ignore", "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, str(ROOT / "src" / "main.py"), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_cli(*args: str):
    """Run the CLI in this process (faster than a subprocess); return the CLI object."""
    from unittest import mock

    from runforge.cli.cli import CLI

    try:
        with mock.patch.object(sys, "argv", ["src/main.py"]):
            return CLI(args=list(args))
    finally:
        if "wandb" in sys.modules:  # finish a W&B run and flush its files, as process exit would
            sys.modules["wandb"].finish()
            sys.modules["wandb"].teardown()


def only_run_dir(logs: Path) -> Path:
    """The single run directory under `logs/<name>/`; fails if there is not exactly one.

    MLflow's local artifact store (`logs/mlartifacts/<experiment>/`) is shared, not a run.
    """
    runs = [p for p in logs.glob("*/*") if p.is_dir() and p.parent.name != "mlartifacts"]
    assert len(runs) == 1, f"expected one run directory, found {runs}"
    return runs[0]


def read_json(path: Path) -> dict:
    """Load a JSON file."""
    return json.loads(path.read_text())


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` and return its stripped output (fails the test on error)."""
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def write_shapes_folder(root: Path, per_class: int = 24, size: tuple[int, int] = (30, 36)) -> Path:
    """Real image files of three drawn shapes (bar, circle, cross) in `root/<class>/`.

    Formats cycle through PNG, JPEG and WebP; modes through RGB, grey and RGBA; sizes vary.
    Brightness and position vary per image, so a classifier has something to learn.
    """
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("bar", "circle", "cross"):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            height, width = size[0] + i % 3, size[1] - i % 4
            pixels = np.zeros((height, width, 3), np.uint8) + rng.integers(0, 60, 3, np.uint8)
            cy, cx = height // 2 + rng.integers(-3, 4), width // 2 + rng.integers(-3, 4)
            yy, xx = np.mgrid[:height, :width]
            mask = {
                "circle": (yy - cy) ** 2 + (xx - cx) ** 2 < 80,
                "cross": (abs(yy - cy) < 3) | (abs(xx - cx) < 3),
                "bar": (abs(yy - cy) < 4) & (abs(xx - cx) < 13),
            }[name]
            pixels[mask] = rng.integers(150, 256, 3)
            image = Image.fromarray(pixels).convert(("RGB", "L", "RGBA")[i % 3])
            suffix = ("png", "jpg", "webp")[(i // 3) % 3]
            suffix = "png" if suffix == "jpg" and image.mode == "RGBA" else suffix  # no JPEG alpha
            image.save(root / name / f"{name}_{i:03d}.{suffix}")
    return root


#: The random numbers drawn by `record_draw` (a custom augmentation), in order.
DRAWS: list[float] = []


def record_draw(image):
    """A custom augmentation for tests: records one random draw per image, returns it as is."""
    import torch

    DRAWS.append(torch.rand(()).item())
    return image


def cli_error(capsys, *args: str) -> str:
    """Run `main(args)` in this process; assert exit code 2 and one `error:` line; return it."""
    from unittest import mock

    import pytest

    from runforge.cli.cli import main

    with mock.patch.object(sys, "argv", ["src/main.py"]), pytest.raises(SystemExit) as exited:
        main(list(args))
    assert exited.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, errors
    return errors[0]


class ColorSquares(InMemoryImageDataModule):
    """7 classes of 3x12x12 colour images (class k: a bright square at place k on noise).

    Its number of classes, channels and size differ from every default of the tasks and
    networks, so a value that is not linked from the data shows.
    """

    num_classes = 7
    input_shape = (3, 12, 12)

    def load(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Noise with one bright 4x4 square per image, placed by its class."""
        generator = torch.Generator().manual_seed(0)
        labels = torch.arange(280) % self.num_classes
        images = torch.randint(0, 80, (len(labels), *self.input_shape), generator=generator)
        for label in range(self.num_classes):
            row, col = divmod(label, 3)
            images[labels == label, :, 4 * row : 4 * row + 4, 4 * col : 4 * col + 4] = 255
        images = images.to(torch.uint8)
        return {"train": (images[:210], labels[:210]), "test": (images[210:], labels[210:])}


@functools.cache
def components() -> str:
    """What `make components` prints (scripts/list_components.py), run once per session."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "list_components.py")],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout


def start_script(script: str, *args: str, env: dict | None = None) -> subprocess.Popen:
    """Start `python src/<script> ARGS` (e.g. sweep.py, kfold.py, main.py), output captured."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    env.pop("RUN_VERSION", None)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "src" / script), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 600) -> None:
    """Wait until `path` exists while `process` runs (fails if it ends or time runs out)."""
    import time

    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"ended before {path} appeared: {process.communicate()[1]}"
        assert time.monotonic() < deadline, f"{path} did not appear in {timeout} s"
        time.sleep(0.05)

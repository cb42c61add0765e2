"""The second task: an autoencoder through the same CLI, run records, resume and ONNX export."""

from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from PIL import Image

from data_modules import DigitsDataModule
from helpers import components, only_run_dir, read_json, run_cli, run_main
from models import ConvAutoencoder
from tasks import ImageReconstructor

RECIPE = ["-c", "configs/data/digits.yaml", "-c", "configs/model/autoencoder.yaml"]


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 30, 36)])
def test_autoencoder_returns_images_of_the_input_shape_in_unit_range(shape):
    out = ConvAutoencoder(shape)(torch.randn(2, *shape))
    assert out.shape == (2, *shape) and 0 <= out.min() and out.max() <= 1


@pytest.fixture(scope="module")
def autoencoder_run(tmp_path_factory):
    """The recipe's default run on digits (20 epochs), tested after fit, through the CLI."""
    logs = tmp_path_factory.mktemp("autoencoder") / "logs"
    result = run_main("fit", *RECIPE, "--run.root", str(logs), "--test_after_fit", "true")
    assert result.returncode == 0, result.stderr[-3000:]
    return only_run_dir(logs), result


@pytest.mark.slow
def test_default_recipe_reaches_20_db_on_the_digits_test_part(autoencoder_run):
    run, result = autoencoder_run
    metrics = read_json(run / "test_metrics.json")
    assert metrics["test/psnr"] >= 20.0
    assert 0.9 <= metrics["test/ssim"] <= 1.0
    assert "TestReport: ImageReconstructor is not a classifier; skipped" in result.stderr
    assert not (run / "confusion_matrix.png").exists()
    with Image.open(run / "reconstructions.png") as image:
        assert image.format == "PNG" and image.size[0] > 2 * image.size[1]  # 8 columns, 2 rows
    assert (run / "curves.png").is_file()
    assert "class_path: tasks.ImageReconstructor" in (run / "config.yaml").read_text()


@pytest.mark.slow
def test_test_resume_and_onnx_export_work_unchanged(autoencoder_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(autoencoder_run[0], run)
    config = str(run / "config.yaml")
    tested = read_json(run / "test_metrics.json")["test/psnr"]
    (run / "test_metrics.json").unlink()
    best = next((run / "checkpoints").glob("epoch*.ckpt"))  # the copy's, not the original run's
    onnx_preset = ["-c", "configs/callbacks/onnx_export.yaml"]
    run_cli("test", "-c", config, "--ckpt_path", str(best), *onnx_preset)
    assert read_json(run / "test_metrics.json")["test/psnr"] == pytest.approx(tested, abs=1e-4)

    (exported,) = (run / "export").glob("*.onnx")
    session = onnxruntime.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    dm = DigitsDataModule()
    dm.setup("test")
    images = dm.datasets["test"].images[:16]
    (outputs,) = session.run(None, {"inputs": images.numpy()})
    task = ImageReconstructor.load_from_checkpoint(best, map_location="cpu").eval()
    with torch.no_grad():
        expected = task(dm.preprocess(images)).numpy()
    assert outputs.shape == (16, 1, 8, 8)
    np.testing.assert_allclose(outputs, expected, atol=1e-5)

    run_cli("predict", "-c", config, "--ckpt_path", str(best))
    rows = (run / "predictions.csv").read_text().splitlines()
    assert rows[0] == "index,psnr" and len(rows) == 1 + 359  # the digits test part
    reconstructions = torch.load(run / "predictions.pt", weights_only=True)["reconstruction"]
    assert reconstructions.shape == (359, 1, 8, 8)
    assert torch.allclose(reconstructions[:16], torch.from_numpy(outputs), atol=1e-5)

    epochs = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["epoch"]
    last = str(run / "checkpoints" / "last.ckpt")
    run_cli("fit", "-c", config, "--ckpt_path", last, "--trainer.max_epochs", str(epochs + 2))
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == epochs + 1
    assert len(read_json(run / "provenance.json")) >= 1
    with open(run / "curves.csv") as file:
        assert len(file.read().splitlines()) == epochs + 3  # header + every epoch


def test_recipe_keeps_the_default_callbacks_with_its_own_monitor():
    import yaml

    def callbacks(path: str) -> list[dict]:
        return yaml.safe_load(Path(path).read_text())["trainer"]["callbacks"]

    default, recipe = callbacks("configs/default.yaml"), callbacks("configs/model/autoencoder.yaml")
    assert [c["class_path"] for c in recipe] == [c["class_path"] for c in default]
    monitors = {c.get("init_args", {}).get("monitor") for c in recipe} - {None}
    assert monitors == {"val/psnr"}


def test_make_components_lists_the_autoencoder_and_its_task():
    out = components()
    assert "models.ConvAutoencoder" in out and "tasks.ImageReconstructor" in out

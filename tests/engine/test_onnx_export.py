"""ONNX export: the exported file, run by onnxruntime, predicts what the checkpoint predicts."""

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import onnx
import onnx.numpy_helper
import onnxruntime
import pytest
import torch
from lightning.pytorch.trainer.states import TrainerFn
from torch.utils.data import DataLoader, TensorDataset
from toy import Bars

from helpers import TINY, TOY, only_run_dir, read_json, run_cli, run_main
from runforge.callbacks import ONNXExport
from runforge.callbacks.onnx_export import stage_inputs
from runforge.tasks import ImageClassifier

ONNX_PRESET = ["-c", "configs/callbacks/onnx_export.yaml"]


def _session(path):
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _toy_test_set():
    datamodule = Bars()
    datamodule.setup("test")
    test = datamodule.datasets["test"]
    return test.images, test.labels


def _weight_bytes(path) -> int:
    """The bytes of a model's stored tensors (its weights), not of its graph."""
    return sum(onnx.numpy_helper.to_array(w).nbytes for w in onnx.load(path).graph.initializer)


@pytest.mark.slow
def test_exported_best_checkpoint_scores_the_tested_accuracy(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    best = next(p for p in (run / "checkpoints").glob("*.ckpt") if p.name != "last.ckpt")

    result = run_main(
        "test", "-c", str(run / "config.yaml"), "--ckpt_path", str(best), *ONNX_PRESET,
        "--trainer.callbacks.int8", "true",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]

    float_file = run / "export" / f"{best.stem}.onnx"
    session = _session(float_file)
    (inputs,) = session.get_inputs()
    assert inputs.type == "tensor(uint8)" and inputs.shape == ["batch", 1, 8, 8]
    images, labels = _toy_test_set()
    (logits,) = session.run(None, {"inputs": images.numpy()})  # raw images, all at once
    task = ImageClassifier.load_from_checkpoint(best, map_location="cpu").eval()
    with torch.no_grad():
        expected = task(Bars().preprocess(images)).numpy()
    np.testing.assert_allclose(logits, expected, atol=1e-4)
    accuracy = float((logits.argmax(1) == labels.numpy()).mean())
    assert accuracy == pytest.approx(read_json(run / "test_metrics.json")["test/acc"], abs=1e-6)
    (one,) = session.run(None, {"inputs": images[:1].numpy()})  # the batch size is free
    np.testing.assert_allclose(one, logits[:1], atol=1e-5)

    int8_file = float_file.with_suffix(".int8.onnx")
    weights = onnx.load(int8_file).graph.initializer
    assert {onnx.TensorProto.INT8, onnx.TensorProto.UINT8} <= {w.data_type for w in weights}
    assert _weight_bytes(int8_file) < 0.5 * _weight_bytes(float_file)
    (int8_logits,) = _session(int8_file).run(None, {"inputs": images.numpy()})
    assert (int8_logits.argmax(1) == labels.numpy()).mean() >= accuracy - 0.02


@pytest.mark.slow
def test_fit_exports_its_best_checkpoint_once_with_test_after_fit(tmp_path):
    logs = tmp_path / "logs"
    args = ["--trainer.max_epochs", "2", "--test_after_fit", "true", "--run.root", str(logs)]
    result = run_main("fit", *TOY, *ONNX_PRESET, *args)
    assert result.returncode == 0, result.stderr[-3000:]

    run = only_run_dir(logs)
    best = next(p for p in (run / "checkpoints").glob("*.ckpt") if p.name != "last.ckpt")
    assert [p.name for p in (run / "export").iterdir()] == [f"{best.stem}.onnx"]
    # test after fit tests the checkpoint that was exported, without exporting it again
    assert (result.stdout + result.stderr).count("ONNX export:") == 1


def test_export_leaves_the_trainers_model_as_it_was(tmp_path):
    cli = run_cli("fit", *TOY, *TINY, "--run.root", str(tmp_path / "logs"))
    model, trainer = cli.model, cli.trainer
    ckpt = tmp_path / "other.ckpt"
    trainer.save_checkpoint(ckpt)
    saved = torch.load(ckpt, weights_only=True)
    saved["state_dict"] = {key: value * 1.1 for key, value in saved["state_dict"].items()}
    torch.save(saved, ckpt)
    before = {key: value.clone() for key, value in model.state_dict().items()}
    model.train()

    ONNXExport()._export(trainer, model, str(ckpt))

    assert model.training
    assert all(torch.equal(before[key], value) for key, value in model.state_dict().items())
    images, _ = _toy_test_set()
    exported_file = Path(trainer.default_root_dir, "export", "other.onnx")
    (exported,) = _session(exported_file).run(None, {"inputs": images.numpy()})
    model.load_state_dict(saved["state_dict"])
    expected = model.eval()(cli.datamodule.preprocess(images)).detach().numpy()
    np.testing.assert_allclose(exported, expected, atol=1e-4)


@pytest.mark.parametrize("shape", ["loader", "list", "dict"])
def test_example_inputs_come_from_the_first_loader_of_the_stage(shape):
    first = DataLoader(TensorDataset(torch.zeros(4, 3), torch.zeros(4)), batch_size=2)
    other = DataLoader(TensorDataset(torch.ones(4, 3), torch.ones(4)), batch_size=2)
    loaders = {"loader": first, "list": [first, other], "dict": {"a": first, "b": other}}[shape]
    trainer = SimpleNamespace(state=SimpleNamespace(fn=TrainerFn.TESTING), test_dataloaders=loaders)
    trainer.val_dataloaders = trainer.train_dataloader = trainer.predict_dataloaders = None
    assert torch.equal(next(iter(stage_inputs(trainer))), torch.zeros(2, 3))


def test_calibration_needs_a_batch():
    with pytest.raises(ValueError, match="calibration_batches=0"):
        ONNXExport(int8=True, calibration_batches=0)

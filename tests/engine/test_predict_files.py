"""`predict` on new files (folders, image files, tensor files) and the torch-free ONNX script."""

import csv
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from toy import Bars

from helpers import ROOT, run_main, write_shapes_folder
from runforge.data.predict_files import load_predict_files
from runforge.errors import ConfigError


def _rows(path) -> list[dict]:
    with open(path) as file:
        return list(csv.DictReader(file))


def _predict(run, *args):
    result = run_main("predict", "-c", str(run / "config.yaml"), "--ckpt_path", "best", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def new_photos(tmp_path_factory):
    """Files the model never saw: 3 per class in class folders, one loose, one corrupt."""
    root = write_shapes_folder(tmp_path_factory.mktemp("new") / "photos", per_class=3)
    shutil.copy(root / "cross" / "cross_000.png", root / "unsorted.png")
    (root / "bar" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    return root


@pytest.mark.slow
def test_predict_on_a_folder_writes_paths_names_and_labels_and_never_overwrites(
    shapes_run, new_photos, tmp_path
):
    # Work in a copy of the logs root (MLflow store included): the shared run stays as it was.
    original = shapes_run[0]
    shutil.copytree(original.parent.parent, tmp_path / "logs")
    run = tmp_path / "logs" / original.relative_to(original.parent.parent)
    best = next((run / "checkpoints").glob("epoch*.ckpt"))
    args = ["--ckpt_path", str(best), "--data.predict_path", str(new_photos)]
    first = run_main("predict", "-c", str(run / "config.yaml"), *args)
    assert first.returncode == 0, first.stderr[-3000:]
    assert f"Predictions: {run / 'predictions.csv'} (10 rows)" in first.stderr
    assert "1 unreadable image file(s) skipped" in first.stderr and "corrupt.jpg" in first.stderr
    rows = _rows(run / "predictions.csv")
    assert list(rows[0]) == [
        "path", "label", "label_name", "pred", "pred_name", "prob",
        "top2", "top2_name", "top2_prob", "top3", "top3_name", "top3_prob",
    ]  # fmt: skip
    by_path = {row["path"]: row for row in rows}
    loose = by_path[str(new_photos / "unsorted.png")]
    assert loose["label"] == "" and loose["label_name"] == ""  # no class folder: unknown
    labelled = [row for row in rows if row["label"]]
    assert len(labelled) == 9
    assert all(
        row["label_name"] == os.path.basename(os.path.dirname(row["path"])) for row in labelled
    )
    assert sum(row["pred"] == row["label"] for row in labelled) >= 7
    for row in rows:
        probs = [float(row[k]) for k in ("prob", "top2_prob", "top3_prob")]
        assert probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(1, abs=1e-5)

    second = run_main("predict", "-c", str(run / "config.yaml"), *args)
    assert f"Predictions: {run / 'predictions-2.csv'}" in second.stderr
    assert _rows(run / "predictions-2.csv") == rows  # the first file is kept, same answers

    # ONNX: export the checkpoint, then classify the same files without torch.
    onnx_preset = ["-c", "configs/callbacks/onnx_export.yaml"]
    exported = run_main(
        "test", "-c", str(run / "config.yaml"), "--ckpt_path", str(best), *onnx_preset
    )
    assert exported.returncode == 0, exported.stderr[-3000:]
    no_torch = tmp_path / "no_torch"
    no_torch.mkdir()
    (no_torch / "torch.py").write_text(
        "raise ImportError('predict_onnx.py must not import torch')\n"
    )
    model, output = run / "export" / f"{best.stem}.onnx", tmp_path / "onnx.csv"
    script = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "predict_onnx.py"), str(model), str(new_photos),
         "--output", str(output)],
        env={**os.environ, "PYTHONPATH": str(no_torch)}, capture_output=True, text=True,
    )  # fmt: skip
    assert script.returncode == 0, script.stderr
    onnx_rows = {row["path"]: row for row in _rows(output)}
    assert set(onnx_rows) == set(by_path)
    for path, row in by_path.items():
        assert onnx_rows[path]["pred_name"] == row["pred_name"], path
        assert onnx_rows[path]["label"] == row["label"]
        assert float(onnx_rows[path]["prob"]) == pytest.approx(float(row["prob"]), abs=0.02)


@pytest.mark.slow
def test_a_trained_model_predicts_image_files_and_tensor_files(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run, ignore=shutil.ignore_patterns("predictions*.csv"))
    dm = Bars()
    dm.setup("test")
    images, labels = dm.datasets["test"].images[:30], dm.datasets["test"].labels[:30]
    photos = tmp_path / "photos"
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        (photos / str(int(label))).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[0].numpy()).resize((32, 32), Image.Resampling.NEAREST).save(
            photos / str(int(label)) / f"{i}.png"
        )  # a bigger RGB-free grey PNG, resized back to 8x8 by the data module
    np.save(tmp_path / "images.npy", images.numpy())
    best = next((run / "checkpoints").glob("epoch*.ckpt"))
    files = _predict(run, "--ckpt_path", str(best), "--data.predict_path", str(photos))
    rows = _rows(run / "predictions.csv")
    assert len(rows) == 30 and "(30 rows)" in files.stderr
    accuracy = np.mean([row["pred"] == row["label"] for row in rows])
    assert accuracy >= 0.8
    _predict(run, "--ckpt_path", str(best), "--data.predict_path", str(tmp_path / "images.npy"))
    tensor_rows = _rows(run / "predictions-2.csv")
    assert [row["path"] for row in tensor_rows[:2]] == [
        f"{tmp_path / 'images.npy'}[{i}]" for i in range(2)
    ]
    assert all(row["label"] == "" for row in tensor_rows)
    truth = labels.tolist()
    tensor_accuracy = np.mean(
        [int(row["pred"]) == t for row, t in zip(tensor_rows, truth, strict=True)]
    )
    assert tensor_accuracy >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize(
    ("given", "message"),
    [("missing_folder", "is neither a file nor a folder"), ("empty", "no readable images")],
)
def test_unusable_predict_path_is_one_error(trained_run, tmp_path, given, message):
    (tmp_path / "empty").mkdir()
    result = run_main(
        "predict", "-c", str(trained_run / "config.yaml"), "--ckpt_path", "best",
        "--data.predict_path", str(tmp_path / given),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "data.predict_path" in errors[0] and message in errors[0]


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((3, 5, 5), np.uint8), "holds shape (3, 5, 5); expected (N, 1, H, W)"),
        (np.zeros((2, 3, 8, 8), np.uint8), "holds shape (2, 3, 8, 8); expected (N, 1, H, W)"),
        (np.linspace(0, 1000, 128, dtype=np.float32).reshape(2, 1, 8, 8), "from 0 to 1000"),
        (np.full((1, 1, 8, 8), -1.0, np.float32), "from -1 to -1; this data stores images in"),
    ],
    ids=["3-d", "channels", "beyond-the-scale", "negative"],
)
def test_a_tensor_file_not_in_the_datas_format_is_one_error(tmp_path, array, message):
    np.save(tmp_path / "inputs.npy", array)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_predict_files(str(tmp_path / "inputs.npy"), (1, 8, 8), 16.0, list("0123456789"))


def test_a_tensor_file_in_the_datas_format_is_resized_not_rescaled(tmp_path):
    array = np.linspace(0, 16, 2 * 4 * 4, dtype=np.float32).reshape(2, 1, 4, 4)
    np.save(tmp_path / "inputs.npy", array)
    images, labels, sources = load_predict_files(
        str(tmp_path / "inputs.npy"), (1, 8, 8), 16.0, list("0123456789")
    )
    assert images.shape == (2, 1, 8, 8) and images.max() <= 16.0 and images.min() >= 0.0
    assert labels.tolist() == [-1, -1] and sources[1] == f"{tmp_path / 'inputs.npy'}[1]"


@pytest.mark.parametrize(
    ("given", "message"),
    [("missing", "is neither a file nor a folder"), ("empty", "no readable images")],
)
def test_an_unusable_predict_path_is_one_error(tmp_path, given, message):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=f"data.predict_path: .*{message}"):
        load_predict_files(str(tmp_path / given), (1, 8, 8), 16.0, list("0123456789"))


def _test_photos(folder, count: int) -> list[int]:
    """Test images as 32x32 grey PNGs in folders named by their class, one loose."""
    dm = Bars()
    dm.setup("test")
    labels = dm.datasets["test"].labels[:count].tolist()
    for i, (image, label) in enumerate(zip(dm.datasets["test"].images, labels, strict=False)):
        where = folder if i == 0 else folder / str(label)  # the first has no class folder
        where.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[0].numpy()).resize((32, 32), Image.Resampling.NEAREST).save(
            where / f"{i}.png"
        )
    return labels


def test_predict_on_a_folder_names_labels_and_never_overwrites(tmp_path, caplog):
    """In-process, on a tiny run: what the slow image-folder test checks, in seconds."""
    from helpers import TINY, TOY, only_run_dir, run_cli

    labels = _test_photos(tmp_path / "photos", 10)
    run_cli("fit", *TOY, *TINY, "--run.root", str(tmp_path / "logs"))
    run = only_run_dir(tmp_path / "logs")
    for number in ("", "-2"):
        with caplog.at_level("INFO"):
            run_cli("predict", "-c", str(run / "config.yaml"), "--ckpt_path", "last",
                    "--data.predict_path", str(tmp_path / "photos"))  # fmt: skip
        assert f"Predictions: {run / f'predictions{number}.csv'} (10 rows)" in caplog.text
    first, second = _rows(run / "predictions.csv"), _rows(run / "predictions-2.csv")
    assert first == second, "the same predictions, in a second file"
    by_path = {row["path"]: row for row in first}
    assert by_path[str(tmp_path / "photos" / "0.png")]["label"] == ""  # no class folder
    for i, label in list(enumerate(labels))[1:]:
        row = by_path[str(tmp_path / "photos" / str(label) / f"{i}.png")]
        assert (row["label"], row["label_name"]) == (str(label), str(label))
        assert row["pred_name"] == row["pred"] and 0 < float(row["prob"]) <= 1

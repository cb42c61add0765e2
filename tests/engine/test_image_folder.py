"""ImageFolderDataModule: class folders of real image files, decoded once and cached."""

import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import torch
from PIL import Image

from helpers import TINY, run_main, write_shapes_folder
from runforge.data import ImageFolderDataModule, folder_cache
from runforge.data.folder_cache import channel_statistics
from runforge.errors import ConfigError

CLASSES = ["bar", "circle", "cross"]

#: An image folder under the test project's model.
FOLDER_RECIPE = ["--data", "runforge.data.ImageFolderDataModule"]
FOLDER_RECIPE += ["-c", "tests/configs/toy_model.yaml"]


def _module(root, tmp_path, **kwargs) -> ImageFolderDataModule:
    return ImageFolderDataModule(str(root), cache_dir=str(tmp_path / "cache"), **kwargs)


def test_classes_and_shape_are_known_before_loading(shapes_folder, tmp_path):
    dm = _module(shapes_folder, tmp_path, image_size=(20, 24), mode="GRAY")
    assert dm.class_names == CLASSES and dm.num_classes == 3
    assert dm.input_shape == (1, 20, 24)
    assert not (tmp_path / "cache").exists()  # nothing decoded yet


def test_every_format_is_decoded_resized_and_split_by_class(shapes_folder, tmp_path, caplog):
    dm = _module(shapes_folder, tmp_path, image_size=16, val_fraction=0.25, test_fraction=0.25)
    dm.setup("fit")
    assert re.search(r"1 unreadable image file\(s\) skipped: .*broken\.png", caplog.text)
    sizes = {split: len(ds) for split, ds in dm.datasets.items()}
    assert sizes == {"train": 42, "val": 12, "test": 18}  # 72 readable files
    for split, ds in dm.datasets.items():
        assert ds.images.dtype == torch.uint8 and ds.images.shape[1:] == (3, 16, 16)
        counts = ds.labels.bincount(minlength=3).tolist()
        assert max(counts) - min(counts) <= 1, f"{split} is not stratified: {counts}"
    # The mean/std normalise with the training images' statistics.
    mean, std = channel_statistics(dm.datasets["train"].images, 255.0)
    assert dm.mean == pytest.approx(mean) and dm.std == pytest.approx(std)
    images = dm.preprocess(dm.datasets["train"].images)
    assert images.mean(dim=(0, 2, 3)).abs().max() < 1e-4


def test_test_part_is_fixed_and_val_follows_the_seed(shapes_folder, tmp_path):
    a, b = (_module(shapes_folder, tmp_path, image_size=8, split_seed=s) for s in (1, 2))
    for dm in (a, b):
        dm.setup("fit")
    assert torch.equal(a.datasets["test"].images, b.datasets["test"].images)
    assert not torch.equal(a.datasets["val"].images, b.datasets["val"].images)


def test_unchanged_folder_loads_the_cache_and_a_changed_one_rebuilds(tmp_path, monkeypatch):
    root = write_shapes_folder(tmp_path / "images", per_class=4)
    _module(root, tmp_path, image_size=8).setup("fit")
    (cached,) = (tmp_path / "cache" / "image_folder").glob("*.u8")

    def no_decoding(*args):
        raise AssertionError("an unchanged folder must load from the cache")

    monkeypatch.setattr(folder_cache, "read_images", no_decoding)
    again = _module(root, tmp_path, image_size=8)
    again.setup("fit")
    assert len(again.datasets["train"]) + len(again.datasets["val"]) == 9
    monkeypatch.undo()
    changed = root / "cross" / "cross_000.png"
    shutil.copy(root / "bar" / "bar_000.png", changed)  # same name, new content
    os.utime(changed, ns=(1, 1))
    _module(root, tmp_path, image_size=8).setup("fit")
    (rebuilt,) = (tmp_path / "cache" / "image_folder").glob("*.u8")  # the stale one is gone
    assert rebuilt != cached


def test_train_val_test_folders_are_the_splits(tmp_path):
    for split, count in (("train", 6), ("val", 2), ("test", 3)):
        write_shapes_folder(tmp_path / "images" / split, per_class=count)
    dm = _module(tmp_path / "images", tmp_path, image_size=8)
    assert dm.class_names == CLASSES
    dm.setup("fit")
    assert {k: len(v) for k, v in dm.datasets.items()} == {"train": 18, "val": 6, "test": 9}


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({}, "has no class folders"),
        ({"cats": 0}, r"class folder .*cats has no images"),
        ({"cats": 2, "dogs": 0}, r"class folder .*dogs has no images"),
        (None, "is not a folder"),
    ],
)
def test_an_unusable_folder_is_one_error_naming_data_root(tmp_path, layout, message):
    root = tmp_path / "images"
    if layout is not None:
        root.mkdir()
        for name, count in layout.items():
            (root / name).mkdir()
            for i in range(count):
                Image.new("RGB", (4, 4), (255, 0, 0)).save(root / name / f"{i}.png")
    with pytest.raises(ConfigError, match=f"data.root: .*{message}"):
        ImageFolderDataModule(str(root))


def test_cli_reports_a_bad_folder_in_one_line_and_creates_no_run(tmp_path):
    (tmp_path / "images" / "cats").mkdir(parents=True)
    logs = tmp_path / "logs"
    result = run_main(
        "fit", *FOLDER_RECIPE,
        "--data.root", str(tmp_path / "images"), "--run.root", str(logs), *TINY,
    )  # fmt: skip
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "data.root" in errors[0] and "cats has no images" in errors[0]
    assert not logs.exists()


def test_class_order_does_not_depend_on_the_folder_listing_order(tmp_path, monkeypatch):
    root = write_shapes_folder(tmp_path / "images", per_class=4)
    listed = _module(root, tmp_path, image_size=8)
    real_iterdir = type(root).iterdir

    def shuffled(self):
        entries = list(real_iterdir(self))
        return iter(entries[1::2] + entries[::2][::-1])  # the file system's own order

    monkeypatch.setattr(type(root), "iterdir", shuffled)
    shuffled_module = _module(root, tmp_path / "other", image_size=8)
    assert shuffled_module.class_names == listed.class_names == CLASSES
    assert shuffled_module.files == listed.files, "same files, same order, same labels"


def test_a_class_whose_images_are_all_unreadable_is_one_error(tmp_path):
    root = write_shapes_folder(tmp_path / "images", per_class=4)
    for image in (root / "cross").iterdir():
        image.write_bytes(b"not an image at all")
    module = _module(root, tmp_path, image_size=8)
    with pytest.raises(ConfigError, match=r"none of the 4 image file\(s\) of class 'cross' could"):
        module.setup("fit")


def test_a_classifier_on_a_folder_of_one_class_is_one_error_naming_the_folders(tmp_path, capsys):
    from helpers import cli_error

    root = write_shapes_folder(tmp_path / "images", per_class=4)
    for other in ("bar", "circle"):
        shutil.rmtree(root / other)
    error = cli_error(
        capsys, "fit", *FOLDER_RECIPE,
        "--data.root", str(root), "--data.cache_dir", str(tmp_path / "cache"),
        "--run.root", str(tmp_path / "logs"),
    )  # fmt: skip
    assert "num_classes=1: a classifier needs two classes or more" in error
    assert "an image folder needs a sub-folder per class" in error


def test_channel_statistics_are_exact_from_a_histogram_of_the_values():
    images = torch.randint(0, 256, (40, 3, 9, 7), dtype=torch.uint8)
    mean, std = channel_statistics(images, 255.0)
    values = images.double() / 255
    assert mean == pytest.approx(values.mean(dim=(0, 2, 3)).tolist(), abs=1e-12)
    assert std == pytest.approx(values.std(dim=(0, 2, 3), unbiased=False).tolist(), abs=1e-12)


def test_the_cache_is_one_raw_file_read_as_a_memory_map(tmp_path):
    """The splits are gathered from the file's pages: no second copy of the images in memory."""
    root = write_shapes_folder(tmp_path / "images", per_class=4)
    paths = sorted(p for p in root.rglob("*.png"))
    cached = folder_cache.load_or_build(paths, (3, 8, 8), tmp_path / "cache", root)
    assert cached["path"].suffix == ".u8"
    assert cached["path"].stat().st_size == len(paths) * 3 * 8 * 8
    with open("/proc/self/maps") as maps:  # the images' memory is the file's, mapped
        assert str(cached["path"]) in maps.read()
    again = folder_cache.load_or_build(paths, (3, 8, 8), tmp_path / "cache", root)
    assert torch.equal(again["images"], cached["images"])


def test_a_cache_cut_short_is_rebuilt(tmp_path):
    root = write_shapes_folder(tmp_path / "images", per_class=4)
    paths = sorted(p for p in root.rglob("*.png"))
    whole = folder_cache.load_or_build(paths, (3, 8, 8), tmp_path / "cache", root)
    expected = whole["images"].clone()
    with open(whole["path"], "r+b") as file:  # a disk that filled up, a copy interrupted
        file.truncate(100)
    rebuilt = folder_cache.load_or_build(paths, (3, 8, 8), tmp_path / "cache", root)
    assert torch.equal(rebuilt["images"], expected)


def test_two_processes_building_the_same_cache_at_once_both_succeed(tmp_path):
    """As DDP's ranks do: each decodes into its own partial file; neither removes the other's.

    The second starts building while the first is decoding (each waits for its go file).
    """
    root = write_shapes_folder(tmp_path / "images", per_class=100)
    build = (
        "import sys, time; from pathlib import Path; from runforge.data import folder_cache\n"
        "paths = sorted(Path(sys.argv[1]).rglob('*.png'))\n"
        "go = Path(sys.argv[3]); go.with_suffix('.ready').touch()\n"
        "while not go.exists(): time.sleep(0.001)\n"
        "folder_cache.load_or_build(paths, (3, 16, 16), Path(sys.argv[2]), Path(sys.argv[1]))\n"
    )
    go = [tmp_path / f"go{i}" for i in range(2)]
    processes = [
        subprocess.Popen([sys.executable, "-c", build, str(root), str(tmp_path / "cache"), str(g)],
                         stderr=subprocess.PIPE, text=True)
        for g in go
    ]  # fmt: skip
    cache = tmp_path / "cache" / "image_folder"
    _wait_until(lambda: all(g.with_suffix(".ready").exists() for g in go), processes)
    go[0].touch()
    _wait_until(lambda: list(cache.glob("*.partial")), processes)
    go[1].touch()
    for process in processes:
        assert process.wait(timeout=120) == 0, process.stderr.read()[-2000:]
    files = sorted(p.suffix for p in cache.iterdir())
    assert files == [".json", ".u8"], "one cache, no partial file left"


def _wait_until(condition, processes) -> None:
    while not condition():
        assert all(p.poll() is None for p in processes), "a builder ended early"
        time.sleep(0.001)

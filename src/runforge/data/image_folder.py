"""Your own images: one sub-folder per class, decoded once and cached as uint8 tensors."""

from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from runforge.data.folder_cache import cached_statistics, channel_statistics, load_or_build
from runforge.data.image_files import image_files, warn_skipped
from runforge.data.in_memory import InMemoryImageDataModule
from runforge.errors import ConfigError

#: The test part of a folder without `test/` is drawn with this fixed seed (never `split_seed`).
TEST_SPLIT_SEED = 20_240_101
SPLITS = ("train", "val", "test")


def stratified_split(labels: Tensor, fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Indices `(held_out, rest)`: `fraction` of every class held out (at least one of two+)."""
    generator = torch.Generator().manual_seed(seed)
    held, rest = [], []
    for label in labels.unique():
        members = (labels == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        n_held = max(1, round(len(members) * fraction)) if len(members) > 1 else 0
        held.append(members[:n_held])
        rest.append(members[n_held:])
    return torch.cat(held).sort().values, torch.cat(rest).sort().values


def _class_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


class ImageFolderDataModule(InMemoryImageDataModule):
    """Images in `root/<class name>/*.png|jpg|jpeg|webp`, held in memory as uint8 tensors.

    Class names (and their order) come from the sub-folders. With `root/train/<class>/`
    (and optionally `root/val/`, `root/test/`) those folders are the splits; otherwise a
    fixed stratified `test_fraction` is the test part and `val_fraction` of the rest,
    stratified by `split_seed`, the validation part. Images of any mix of formats and
    channels are decoded with torchvision, converted to `mode` and resized to `image_size`
    (squashed, not cropped), and cached in `cache_dir`; the cache is rebuilt when a file
    is added, removed or changed. Unreadable files are skipped with a warning. The
    per-channel mean and std are measured on the training images.

    Args:
        root: Folder with one sub-folder per class (or `train/`, `val/`, `test/` of them).
        image_size: Height and width of the stored images (one number: square).
        mode: `RGB` (3 channels) or `GRAY` (1 channel).
        test_fraction: Part of each class that is the test set when there is no `test/`.
        cache_dir: Folder for the decoded tensors (`<cache_dir>/image_folder/`).
        **kwargs: The loading and splitting arguments of `InMemoryImageDataModule`.
    """

    max_value = 255.0

    def __init__(
        self,
        root: str,
        image_size: int | tuple[int, int] = 64,
        mode: Literal["RGB", "GRAY"] = "RGB",
        test_fraction: float = 0.2,
        cache_dir: str = "data",
        **kwargs: Any,
    ) -> None:
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
        size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        if len(size) != 2 or min(size) < 1:
            raise ConfigError(f"data.image_size: {image_size} is not a size (H, W) >= 1")
        self.root = Path(root)
        self.test_fraction = test_fraction
        self.cache_dir = Path(cache_dir)
        self.files = self._scan()  # before the base class, which checks eval_sets against them
        self._class_names = [p.name for p in _class_folders(self._class_root)]
        self.num_classes = len(self._class_names)
        self.input_shape = (3 if mode == "RGB" else 1, *size)
        super().__init__(**kwargs)

    @property
    def class_names(self) -> list[str]:
        """The class folders' names; a class's index is its place in this sorted list."""
        return self._class_names

    @property
    def _class_root(self) -> Path:
        return self.root / "train" if (self.root / "train").is_dir() else self.root

    def _scan(self) -> dict[str, list[tuple[Path, int]]]:
        """The image files of each split folder present, with their class index."""
        if not self.root.is_dir():
            raise ConfigError(f"data.root: {self.root} is not a folder (give your image folder)")
        classes = {p.name: i for i, p in enumerate(_class_folders(self._class_root))}
        if not classes:
            raise ConfigError(
                f"data.root: {self._class_root} has no class folders; put each class's "
                "images in a sub-folder named after the class"
            )
        split_roots = (
            {s: self.root / s for s in SPLITS if (self.root / s).is_dir()}
            if self._class_root != self.root
            else {"all": self.root}
        )
        files: dict[str, list[tuple[Path, int]]] = {}
        for split, folder in split_roots.items():
            files[split] = []
            for class_folder in _class_folders(folder):
                if class_folder.name not in classes:
                    raise ConfigError(
                        f"data.root: {class_folder} is not a class of {self._class_root}"
                    )
                found = image_files(class_folder)
                if not found:
                    raise ConfigError(
                        f"data.root: the class folder {class_folder} has no images "
                        "(.png, .jpg, .jpeg, .webp); add some or remove the folder"
                    )
                files[split] += [(path, classes[class_folder.name]) for path in found]
        return files

    def _check_every_class_read(self, labels: Tensor, skipped: list[str]) -> None:
        """ConfigError naming the class folders none of whose images could be read."""
        counts = labels.bincount(minlength=self.num_classes).tolist()
        empty = [name for name, count in zip(self._class_names, counts, strict=True) if not count]
        if empty:
            unread = [path for path in skipped if Path(path).parent.name == empty[0]]
            raise ConfigError(
                f"data.root: none of the {len(unread)} image file(s) of class {empty[0]!r} could "
                f"be read (e.g. {unread[0]}); replace them with images that decode, or remove "
                "the class folder"
            )

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        """Read the cache (or decode the images once and cache them); split and measure them."""
        paths = [path for part in self.files.values() for path, _ in part]
        cached = load_or_build(paths, self.input_shape, self.cache_dir, self.root)
        warn_skipped(cached["skipped"])
        images, kept = cached["images"], cached["kept"]
        if len(kept) == 0:
            raise ConfigError(f"data.root: none of the images under {self.root} could be read")
        labels = torch.tensor([label for part in self.files.values() for _, label in part])[kept]
        self._check_every_class_read(labels, cached["skipped"])
        names = [split for split, part in self.files.items() for _ in part]
        split_of = [names[i] for i in kept.tolist()]
        parts = {s: torch.tensor([n == s for n in split_of]) for s in (*SPLITS, "all")}
        if parts["all"].any():  # one folder of classes: stratified test and val parts
            test, rest = stratified_split(labels, self.test_fraction, TEST_SPLIT_SEED)
            val, train = stratified_split(
                labels[rest], self.hparams.val_fraction, self.hparams.split_seed
            )
            index = {"train": rest[train], "val": rest[val], "test": test}
        else:
            index = {s: parts[s].nonzero().flatten() for s in SPLITS}
            if len(index["val"]) == 0:  # no val/ folder: drawn from train/
                val, train = stratified_split(
                    labels[index["train"]], self.hparams.val_fraction, self.hparams.split_seed
                )
                index["train"], index["val"] = index["train"][train], index["train"][val]
        parts = {split: (images[i], labels[i]) for split, i in index.items()}
        hp = self.hparams
        split = f"test={self.test_fraction},val={hp.val_fraction},seed={hp.split_seed}"
        self.mean, self.std = cached_statistics(
            cached["path"], split, lambda: channel_statistics(parts["train"][0], self.max_value)
        )
        return parts

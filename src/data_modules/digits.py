"""scikit-learn's handwritten digits: 1,797 8x8 images that ship with the package (no download)."""

import torch
from torch import Tensor

from data_modules.in_memory import InMemoryImageDataModule

#: The test part is drawn with this fixed seed, so it never changes with `split_seed`.
TEST_SPLIT_SEED = 20_240_101


class DigitsDataModule(InMemoryImageDataModule):
    """Handwritten digits 0-9 from scikit-learn, 8x8 grey images, held in memory.

    A fixed `test_fraction` of the images is the test set (the same images on every run,
    whatever `split_seed`); the rest is split into train/val by `split_seed`.

    Args:
        batch_size: Images per batch (per device).
        val_fraction: Part of the training images held out for validation, in (0, 1).
        test_fraction: Part of all images that is the fixed test set, in (0, 1).
        split_seed: Seed of the train/val split (the test part never depends on it).
        num_workers: DataLoader worker processes; 0 loads in the main process, which is
            fastest for tensors already in memory.
        pin_memory: Pin batches in page-locked memory for faster copies to a GPU.
        eval_sets: More data modules whose test images are evaluated as extra validation
            and test sets, named by their keys (logged as `val/acc/<name>`, `test/acc/<name>`);
            same classes and channels, resized to this data's image size.
    """

    num_classes = 10
    input_shape = (1, 8, 8)
    max_value = 16.0
    mean = (0.305,)
    std = (0.376,)

    def __init__(
        self,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        test_fraction: float = 0.2,
        split_seed: int = 42,
        num_workers: int = 0,
        pin_memory: bool = False,
        eval_sets: dict[str, InMemoryImageDataModule] | None = None,
    ) -> None:
        super().__init__(batch_size, val_fraction, split_seed, num_workers, pin_memory, eval_sets)
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
        self.test_fraction = test_fraction

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        """Read the digits from scikit-learn and cut off the fixed test part."""
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.as_tensor(digits.images, dtype=torch.uint8).unsqueeze(1)
        labels = torch.as_tensor(digits.target, dtype=torch.long)
        generator = torch.Generator().manual_seed(TEST_SPLIT_SEED)
        order = torch.randperm(len(labels), generator=generator)
        n_test = round(len(labels) * self.test_fraction)
        test, train = order[:n_test], order[n_test:]
        return {"train": (images[train], labels[train]), "test": (images[test], labels[test])}

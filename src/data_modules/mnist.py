"""MNIST from torchvision: downloaded to `data_dir` once, then held in memory as tensors."""

from pathlib import Path

from torch import Tensor

from data_modules.in_memory import InMemoryImageDataModule
from utils.errors import ConfigError


class MNISTDataModule(InMemoryImageDataModule):
    """MNIST handwritten digits, 28x28 grey images.

    The official 60k training images are split into train/val by `split_seed`; the official
    10k test images stay the test set. Files are downloaded to `data_dir` when absent.

    Args:
        data_dir: Folder holding (or receiving) `MNIST/raw/` with the idx files.
        batch_size: Images per batch (per device).
        val_fraction: Part of the training images held out for validation, in (0, 1).
        split_seed: Seed of the train/val split (the test part never depends on it).
        num_workers: DataLoader worker processes; 0 loads in the main process, which is
            fastest for tensors already in memory.
        pin_memory: Pin batches in page-locked memory for faster copies to a GPU.
        download: Download the files when they are not in `data_dir`.
        eval_sets: More data modules whose test images are evaluated as extra validation
            and test sets, named by their keys (logged as `val/acc/<name>`, `test/acc/<name>`);
            same classes and channels, resized to this data's image size.
    """

    num_classes = 10
    input_shape = (1, 28, 28)
    max_value = 255.0
    mean = (0.1307,)
    std = (0.3081,)

    def __init__(
        self,
        data_dir: str = "data",
        batch_size: int = 128,
        val_fraction: float = 0.1,
        split_seed: int = 42,
        num_workers: int = 0,
        pin_memory: bool = False,
        download: bool = True,
        eval_sets: dict[str, InMemoryImageDataModule] | None = None,
    ) -> None:
        super().__init__(batch_size, val_fraction, split_seed, num_workers, pin_memory, eval_sets)
        self.data_dir = data_dir
        self.download = download

    def prepare_data(self) -> None:
        """Download the files once (on one process) when they are not in `data_dir`."""
        from torchvision.datasets import MNIST

        for train in (True, False):
            try:
                MNIST(self.data_dir, train=train, download=self.download)
            except RuntimeError as error:  # torchvision: files missing or download failed
                raw = Path(self.data_dir, "MNIST", "raw")
                fix = (
                    f"the download failed ({error}); copy the idx files there"
                    if self.download
                    else "set data.download true or copy the idx files there"
                )
                raise ConfigError(f"data.data_dir: no MNIST files under {raw}: {fix}") from error

    def load(self) -> dict[str, tuple[Tensor, Tensor]]:
        """Read the idx files straight into uint8 tensors (no PIL, no per-sample transform)."""
        from torchvision.datasets import MNIST

        parts = {}
        for split, train in (("train", True), ("test", False)):
            dataset = MNIST(self.data_dir, train=train, download=False)
            parts[split] = (dataset.data.unsqueeze(1), dataset.targets.long())
        return parts

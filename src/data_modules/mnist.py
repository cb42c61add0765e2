"""MNIST from torchvision: downloaded to `data_dir` once, then held in memory as tensors."""

from pathlib import Path
from typing import Any

from torch import Tensor

from runforge.data.in_memory import InMemoryImageDataModule
from runforge.errors import ConfigError


class MNISTDataModule(InMemoryImageDataModule):
    """MNIST handwritten digits, 28x28 grey images.

    The official 60k training images are split into train/val by `split_seed`; the official
    10k test images stay the test set. Files are downloaded to `data_dir` when absent.

    Args:
        data_dir: Folder holding (or receiving) `MNIST/raw/` with the idx files.
        download: Download the files when they are not in `data_dir`.
        batch_size: Images per batch (per device).
        **kwargs: The other loading and splitting arguments of `InMemoryImageDataModule`.
    """

    num_classes = 10
    input_shape = (1, 28, 28)
    max_value = 255.0
    mean = (0.1307,)
    std = (0.3081,)

    def __init__(
        self, data_dir: str = "data", download: bool = True, batch_size: int = 128, **kwargs: Any
    ) -> None:
        super().__init__(batch_size=batch_size, **kwargs)
        self.data_dir = data_dir
        self.download = download

    def prepare_data(self) -> None:
        """Download the files once (on one process) when they are not in `data_dir`."""
        from torchvision.datasets import MNIST

        raw = Path(self.data_dir, "MNIST", "raw")
        if all((raw / Path(url).stem).is_file() for url, _ in MNIST.resources):
            return  # constructing `MNIST` would read all 70k images just to check the files
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

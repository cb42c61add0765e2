"""Reading a checkpoint file safely: torch only (no Lightning), for quick tools like compare."""

from pathlib import Path
from typing import Any

import torch


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint read with torch's safe loading, its tensors memory-mapped where it can."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as error:
        if "mmap" not in str(error):
            raise
        return torch.load(path, map_location="cpu", weights_only=True)  # the pre-1.6 format

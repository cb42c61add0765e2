"""Data machinery: in-memory base, image folders, device loader, resumable loading, folds.

Also augmentation and predict files. YAML: `runforge.data.ImageFolderDataModule`.
"""

from runforge.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "ImageFolderDataModule": ".image_folder",
        "InMemoryImageDataModule": ".in_memory",
    },
)

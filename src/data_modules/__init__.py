"""Your LightningDataModules. YAML names them by short class path: `data_modules.DigitsDataModule`.

The image-folder data module ships with the engine: `runforge.data.ImageFolderDataModule`.
"""

from runforge.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "DigitsDataModule": ".digits",
        "MNISTDataModule": ".mnist",
    },
)

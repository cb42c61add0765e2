"""LightningDataModules. YAML names them by short class path: `data_modules.DigitsDataModule`."""

from data_modules.digits import DigitsDataModule
from data_modules.image_folder import ImageFolderDataModule
from data_modules.mnist import MNISTDataModule

__all__ = ["DigitsDataModule", "ImageFolderDataModule", "MNISTDataModule"]

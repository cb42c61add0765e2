"""The image-folder recipe (configs/data/image_folder.yaml) on a folder of drawn shapes.

`copier copy` leaves this file out with the image-folder example (copier.yml's `examples`).
"""

from helpers import TINY, run_cli, write_shapes_folder


def test_the_image_folder_recipe_takes_another_image_size_as_it_is(tmp_path):
    """Its crop follows `data.image_size`: no second place to change."""
    root = write_shapes_folder(tmp_path / "images", per_class=8)
    cli = run_cli(
        "fit", "-c", "configs/data/image_folder.yaml", "-c", "configs/model/simplenet.yaml",
        "--data.root", str(root), "--data.image_size", "32", "--data.batch_size", "8",
        "--data.cache_dir", str(tmp_path / "cache"), "--run.root", str(tmp_path / "logs"), *TINY,
    )  # fmt: skip
    assert cli.trainer.state.finished and cli.datamodule.input_shape == (3, 32, 32)
    assert cli.datamodule.augment is not None

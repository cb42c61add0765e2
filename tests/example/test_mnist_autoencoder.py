"""The autoencoder example on the MNIST example's data: both examples together.

`copier copy` leaves this file out unless both examples are kept (copier.yml's `examples`).
"""

from PIL import Image

from helpers import TINY, only_run_dir, run_cli


def test_recipe_runs_on_mnist(tmp_path, mnist_dir):
    logs = tmp_path / "logs"
    run_cli(
        "fit", "-c", "configs/data/mnist.yaml", "-c", "configs/model/autoencoder.yaml",
        "--data.data_dir", str(mnist_dir), "--data.download", "false",
        "--run.root", str(logs), *TINY,
    )  # fmt: skip
    run = only_run_dir(logs)
    with Image.open(run / "reconstructions.png") as image:
        assert image.format == "PNG"
    assert [p.name for p in (run / "checkpoints").glob("epoch*-val_psnr*.ckpt")]

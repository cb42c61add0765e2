"""Options for speed: torch.compile, channels-last, mixed precision, the fast MNIST recipe."""

import pytest
import torch
from toy import TinyNet

from helpers import TOY, only_run_dir, read_json, run_cli
from runforge.tasks import ImageClassifier

TINY_NET = ["--model.init_args.net.init_args.channels", "[4, 8]"]


def _task(**kwargs) -> ImageClassifier:
    torch.manual_seed(0)
    return ImageClassifier(TinyNet((1, 8, 8), 10, channels=(4, 8)), **kwargs)


def test_compiled_and_plain_tasks_share_parameter_names():
    compiled, plain = _task(compile=True), _task()
    assert compiled.net._compiled_call_impl is not None, "the network is compiled"
    assert list(compiled.state_dict()) == list(plain.state_dict())
    assert not any("_orig_mod" in key for key in compiled.state_dict())
    compiled.load_state_dict(plain.state_dict())  # strict, both ways
    plain.load_state_dict(compiled.state_dict())


def test_channels_last_keeps_outputs_and_names():
    fast, plain = _task(channels_last=True), _task()
    assert fast.net.features[0].weight.is_contiguous(memory_format=torch.channels_last)
    fast.load_state_dict(plain.state_dict())
    fast.eval(), plain.eval()
    images = torch.randn(5, 1, 8, 8)
    torch.testing.assert_close(fast(images), plain(images))


def test_bf16_channels_last_device_resident_fit_on_cpu(tmp_path):
    logs = tmp_path / "logs"
    run_cli(
        "fit", *TOY, "-c", "configs/trainer/bf16_mixed.yaml",
        "--data.device_resident", "true", "--model.init_args.channels_last", "true",
        "--trainer.max_epochs", "2", "--run.root", str(logs), "--test_after_fit", "true",
    )  # fmt: skip
    run = only_run_dir(logs)
    assert "precision: bf16-mixed" in (run / "config.yaml").read_text()
    assert read_json(run / "test_metrics.json")["test/acc"] > 0.5


@pytest.mark.slow
def test_a_compiled_fit_loads_into_a_plain_model_and_back(tmp_path):
    """Compiling on CPU takes about a minute per graph (train, eval) on a 2-core machine."""
    logs = tmp_path / "logs"
    run_cli(
        "fit", *TOY, *TINY_NET, "--model.init_args.compile", "true",
        "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2",
        "--trainer.limit_val_batches", "1", "--trainer.num_sanity_val_steps", "0",
        "--run.root", str(logs),
    )  # fmt: skip
    run = only_run_dir(logs)
    ckpt = run / "checkpoints" / "last.ckpt"
    state = torch.load(ckpt, weights_only=True)
    assert state["global_step"] == 2 and state["hyper_parameters"]["compile"] is True
    images = torch.randn(64, 1, 8, 8)
    plain = ImageClassifier.load_from_checkpoint(ckpt, compile=False).eval()
    assert plain.net._compiled_call_impl is None
    compiled = ImageClassifier.load_from_checkpoint(ckpt).eval()  # compile: true, as trained
    assert compiled.net._compiled_call_impl is not None
    with torch.no_grad():
        torch.testing.assert_close(compiled(images), plain(images), rtol=1e-4, atol=1e-5)
    # The plain model's weights go back into a compiled one (and a resumed fit would do so).
    compiled.load_state_dict(plain.state_dict())

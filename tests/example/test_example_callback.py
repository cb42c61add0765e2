"""The example callback (`src/callbacks/grad_norm.py`), tested as you would test yours."""

from types import SimpleNamespace

import pytest
import torch

from callbacks import GradNorm
from helpers import DIGITS, TINY, run_cli


class Recorder(torch.nn.Linear):
    """A module whose `log` records what it is given."""

    def log(self, name, value, **kwargs):
        self.logged = (name, float(value))


def test_grad_norm_is_the_norm_of_all_gradients_on_logging_steps_only():
    module = Recorder(3, 2)
    module(torch.ones(4, 3)).pow(2).sum().backward()
    expected = torch.cat([p.grad.flatten() for p in module.parameters()]).norm().item()
    GradNorm().on_before_optimizer_step(
        SimpleNamespace(global_step=4, log_every_n_steps=5), module, None
    )
    assert module.logged == ("train/grad_norm", pytest.approx(expected))
    del module.logged
    GradNorm().on_before_optimizer_step(
        SimpleNamespace(global_step=5, log_every_n_steps=5), module, None
    )
    assert not hasattr(module, "logged"), "not a logging step"


def test_grad_norm_is_logged_in_a_fit(tmp_path):
    args = ["--trainer.callbacks+=callbacks.GradNorm", "--trainer.log_every_n_steps", "1"]
    cli = run_cli("fit", *DIGITS, *TINY, *args, "--run.root", str(tmp_path))
    assert cli.trainer.callback_metrics["train/grad_norm"] > 0

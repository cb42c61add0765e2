"""runforge.compat: each private Lightning/jsonargparse API the engine uses is still there.

A release that moves one fails here, naming it, rather than somewhere deep in a run.
"""

import signal

import pytest
from jsonargparse import ArgumentParser
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch import Callback, Trainer
from lightning.pytorch.demos.boring_classes import BoringModel
from lightning.pytorch.utilities.exceptions import SIGTERMException

from runforge import compat
from runforge.loggers import TensorBoardLogger


def _trainer(tmp_path, **kwargs) -> Trainer:
    options = {"logger": False, "enable_checkpointing": False, "enable_progress_bar": False}
    return Trainer(default_root_dir=tmp_path, enable_model_summary=False, **options, **kwargs)


def test_without_links_leaves_out_a_link_for_the_block_only():
    parser = ArgumentParser()
    for name in ("a", "b", "c"):
        parser.add_argument(f"--{name}", type=int, default=1)
    parser.link_arguments("a", "b")
    parser.link_arguments("a", "c", compute_fn=lambda a: a * 10)
    assert [link.target[0] for link in compat.link_actions(parser)] == ["b", "c"]
    with compat.without_links(parser, keep=lambda link: link.target[0] != "c"):
        assert [link.target[0] for link in compat.link_actions(parser)] == ["b"]
        assert "c" not in parser.parse_args(["--a", "3"]), "the link left out is not applied"
    assert parser.parse_args(["--a", "3"]).c == 30, "and is back afterwards"


class StopAt(Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if batch_idx == 2:
            compat.stop_after_this_batch(trainer)


def test_stop_after_this_batch_stops_the_fit_as_sigterm_does(tmp_path):
    trainer = _trainer(tmp_path, max_epochs=1, limit_train_batches=10, callbacks=[StopAt()])
    with pytest.raises(SIGTERMException):
        trainer.fit(BoringModel())
    assert trainer.global_step == 3


def test_lightnings_teardown_restores_the_handlers_noted(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    trainer = _trainer(tmp_path)
    try:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        trainer._signal_connector.register_signal_handlers()
        compat.restore_at_teardown(trainer, {signal.SIGTERM: signal.SIG_DFL})
        trainer._signal_connector.teardown()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, before)


class RestorePlace(Callback):
    def on_train_start(self, trainer, pl_module):
        compat.restore_loader_place(trainer)  # nothing to restore: a no-op, not an error
        self.called = True


def test_restore_loader_place_runs_at_train_start(tmp_path):
    restore = RestorePlace()
    _trainer(tmp_path, max_steps=2, callbacks=[restore]).fit(BoringModel())
    assert restore.called


def test_tensorboard_hyperparameters_and_event_writer(tmp_path):
    logger = TensorBoardLogger(save_dir=tmp_path, name="", version="v")
    logger.log_hyperparams({"model": {"lr": 0.1, "net": {"width": 8}}})
    assert compat.flat_hyperparameters(logger) == {"model/lr": 0.1, "model/net/width": 8}
    assert callable(compat.event_file_writer(logger.experiment).add_summary)


def test_an_error_sizing_the_epoch_is_told_apart_from_others(tmp_path):
    trainer = _trainer(tmp_path, max_epochs=1, limit_train_batches=4, val_check_interval=100)
    with pytest.raises((ValueError, MisconfigurationException)) as sizing:
        trainer.fit(BoringModel())
    assert compat.raised_sizing_the_epoch(sizing.value)
    with pytest.raises(ValueError) as other:
        int("x")
    assert not compat.raised_sizing_the_epoch(other.value)

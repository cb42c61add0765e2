"""The private Lightning and jsonargparse APIs the engine relies on, all in this one file.

None of these has a public equivalent (each function says what it stands in for). The
tests in `tests/engine/test_compat.py` fail when a release moves one, so a project repairs
it here once, or gets the repair with `copier update`.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from jsonargparse import ArgumentParser
from lightning.pytorch import Trainer


def link_actions(parser: ArgumentParser) -> list[Any]:
    """The parser's argument links (jsonargparse keeps them in its private `_links_group`)."""
    group = getattr(parser, "_links_group", None)
    return list(group._group_actions) if group is not None else []


@contextmanager
def without_links(parser: ArgumentParser, keep: Callable[[Any], bool]) -> Iterator[None]:
    """Leave out the links for which `keep(link)` is false while the block runs.

    jsonargparse applies every link on `instantiate` and has no public way to skip one.
    """
    group = getattr(parser, "_links_group", None)
    if group is None:
        yield
        return
    dropped = [link for link in group._group_actions if not keep(link)]
    for link in dropped:
        group._group_actions.remove(link)
    try:
        yield
    finally:
        group._group_actions.extend(dropped)


def stop_after_this_batch(trainer: Trainer) -> None:
    """Make the fit stop the way Lightning stops on SIGTERM, at its next check.

    Lightning's loops check the flag of their signal connector after every batch and at an
    epoch's end; `Trainer.should_stop` would end the fit without saving and exit 0.
    """
    trainer._signal_connector.received_sigterm = True


def restore_at_teardown(trainer: Trainer, handlers: dict[int, Any]) -> None:
    """Have Lightning's teardown restore these signal handlers (it noted its own at setup)."""
    trainer._signal_connector._original_handlers.update(handlers)


def restore_loader_place(trainer: Trainer) -> None:
    """Give the training loader its place in the epoch from the checkpoint being resumed.

    Lightning does so only where it builds the loader after restoring the checkpoint.
    """
    trainer.fit_loop._load_combined_loader_states()


def flat_hyperparameters(logger: Any) -> dict[str, Any]:
    """A TensorBoard logger's hyperparameters as its own `log_hyperparams` flattens them."""
    from lightning.fabric.utilities.logger import _convert_params, _flatten_dict

    return logger._sanitize_params(_flatten_dict(_convert_params(dict(logger.hparams))))


def event_file_writer(writer: Any) -> Any:
    """The event-file writer of a TensorBoard `SummaryWriter`, to add a raw summary to."""
    return writer._get_file_writer()


def raised_sizing_the_epoch(error: BaseException) -> bool:
    """Whether Lightning's fit loop raised `error` itself, in `setup_data` (sizing the epoch)."""
    from lightning.pytorch.loops import _FitLoop

    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    return frame is not None and frame.tb_frame.f_code is _FitLoop.setup_data.__code__

"""Class paths checked by slot (`runforge.cli.class_paths`): subclasses, factories of the base."""

from collections.abc import Callable, Iterable
from typing import Any

import pytest
import torch
from jsonargparse import Namespace
from torch import nn

from runforge.cli.class_paths import ANY_CLASS, check_class_paths, refusal, slot_bases
from runforge.errors import ConfigError


def make_net() -> nn.Linear:
    """A factory that declares the network it returns."""
    return nn.Linear(2, 2)


def make_anything():
    """A factory that declares nothing."""
    return nn.Linear(2, 2)


def make_optimizer() -> torch.optim.SGD:
    """A factory returning an optimizer, not a network."""
    raise AssertionError("never called by the check")


@pytest.mark.parametrize(
    ("hint", "bases"),
    [
        (nn.Module, {nn.Module}),
        (Callable[[Iterable], torch.optim.Optimizer], {torch.optim.Optimizer}),
        (dict[str, Callable[[int], nn.Module]] | None, {nn.Module}),
        (list[nn.Module | Callable[..., Any]] | None, ANY_CLASS),
        (int | str | None, set()),
        (Any, ANY_CLASS),
    ],
)
def test_a_slot_takes_the_classes_its_hint_names(hint, bases):
    assert slot_bases(hint) == bases


@pytest.mark.parametrize(
    ("path", "bases", "fits"),
    [
        ("torch.nn.Linear", {nn.Module}, True),
        ("torchvision.models.resnet18", {nn.Module}, True),  # returns a ResNet
        ("test_class_paths.make_net", {nn.Module}, True),
        ("test_class_paths.make_anything", {nn.Module}, False),
        ("test_class_paths.make_optimizer", {nn.Module}, False),
        ("torch.optim.AdamW", {nn.Module}, False),
        ("os.system", {nn.Module}, False),
        ("builtins.exec", ANY_CLASS, False),
        ("builtins.print", ANY_CLASS, False),
        ("torch.nn.Linear", ANY_CLASS, True),
    ],
)
def test_a_class_path_fits_its_slot_as_a_subclass_or_a_declared_factory(path, bases, fits):
    assert (refusal(path, frozenset(bases)) is None) is fits


def test_the_whole_config_is_walked_through_init_args_lists_and_dicts():
    task = Namespace(
        class_path="runforge.tasks.ImageClassifier",
        init_args=Namespace(
            net=Namespace(class_path="toy.TinyNet", init_args=Namespace()),
            metrics={"f1": Namespace(class_path="torchmetrics.classification.MulticlassF1Score")},
            optimizer=Namespace(class_path="torch.optim.AdamW", init_args=Namespace(lr=0.1)),
        ),
    )
    trainer = Namespace(callbacks=[Namespace(class_path="runforge.callbacks.Curves")])
    check_class_paths(Namespace(model=task, trainer=trainer))  # all fit
    task.init_args.metrics["worst"] = Namespace(class_path="torch.nn.Linear")
    with pytest.raises(ConfigError, match=r"^model\.init_args\.metrics\.worst: torch\.nn\.Linear"):
        check_class_paths(Namespace(model=task, trainer=trainer))
    del task.init_args.metrics["worst"]
    trainer.callbacks.append(Namespace(class_path="torch.nn.Linear"))
    with pytest.raises(ConfigError, match=r"^trainer\.callbacks\[1\]: .* subclass of .*Callback"):
        check_class_paths(Namespace(model=task, trainer=trainer))

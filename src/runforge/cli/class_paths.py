"""Class paths checked by slot: each `class_path` of a config names what its slot takes.

A slot's base comes from the type hint of the parameter it fills: `net: nn.Module` takes
network classes, `optimizer: Callable[[Iterable], Optimizer]` optimizer classes,
`trainer.callbacks` callbacks. A class path must name a subclass of a base, or a factory
function whose declared return type is one (`torchvision.models.resnet18` returns a
`ResNet`); where the hint names no base (`Any`) it must name a class or such a factory.
The check runs on the parsed config, before anything is built: `os.system` in the optimizer
slot is refused, not called.
"""

import dataclasses
import functools
import inspect
import operator
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import PurePath
from pkgutil import resolve_name
from typing import Any

from jsonargparse import Namespace

from runforge.errors import ConfigError

#: What `slot_bases` returns for a slot that takes any class (`Any`, `Callable[..., Any]`).
ANY_CLASS: frozenset[type] = frozenset({object})
#: Hints of plain values: a slot of these takes no class.
_PLAIN = (str, bytes, int, float, complex, bool, type(None), PurePath)
_UNIONS = (typing.Union, types.UnionType)


def slot_bases(hint: Any) -> frozenset[type]:
    """The base classes a value of type `hint` is built from (empty: none; `ANY_CLASS`: any)."""
    if hint in (Any, object, inspect.Parameter.empty) or not _is_hint(hint):
        return ANY_CLASS
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return slot_bases(args[0])
    if origin in _UNIONS:
        parts = [slot_bases(arg) for arg in args]
        return ANY_CLASS if ANY_CLASS in parts else frozenset().union(*parts)
    if origin is typing.Literal or origin is type:
        return frozenset()
    if origin is Callable or origin is typing.Callable:
        return slot_bases(args[-1]) if args else ANY_CLASS
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        return slot_bases(args[-1]) if args else ANY_CLASS
    if origin is not None:  # list[X], tuple[X, ...], Iterable[X], ...
        return frozenset().union(*(slot_bases(arg) for arg in args if arg is not Ellipsis))
    if isinstance(hint, type):
        return frozenset() if issubclass(hint, _PLAIN) else frozenset({hint})
    return ANY_CLASS


def _is_hint(hint: Any) -> bool:
    return isinstance(hint, type) or typing.get_origin(hint) is not None


def parameter_hints(target: Any) -> dict[str, Any]:
    """The type hints of a class's `__init__` (over its bases too) or of a function."""
    owners = (
        [c.__init__ for c in reversed(target.__mro__)] if isinstance(target, type) else [target]
    )
    hints: dict[str, Any] = {}
    for owner in owners:
        try:
            hints.update(typing.get_type_hints(owner))
        except Exception:  # noqa: BLE001 - unresolvable annotations: such a slot takes any class
            hints.update({name: Any for name in getattr(owner, "__annotations__", {})})
    hints.pop("return", None)
    return hints


def declared_return(function: Callable) -> Any:
    """The return type a function declares, or `inspect.Parameter.empty`."""
    try:
        return typing.get_type_hints(function).get("return", inspect.Parameter.empty)
    except Exception:  # noqa: BLE001 - unresolvable: as if undeclared
        return inspect.Parameter.empty


def _named(bases: frozenset[type]) -> str:
    names = sorted(f"{base.__module__}.{base.__qualname__}" for base in bases)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def refusal(path: str, bases: frozenset[type]) -> str | None:
    """Why `path` does not fit a slot of `bases` (None when it fits)."""
    try:
        found = resolve_name(path)
    except (ImportError, AttributeError, ValueError):
        return None  # the parser names a class path that does not import
    expected = "a class" if bases == ANY_CLASS else f"a subclass of {_named(bases)}"
    if isinstance(found, type):
        if bases == ANY_CLASS or issubclass(found, tuple(bases)):
            return None
        return f"{path} is not {expected}"
    returned = declared_return(found) if callable(found) else inspect.Parameter.empty
    builds = isinstance(returned, type) and returned is not inspect.Parameter.empty
    if builds and not issubclass(returned, _PLAIN):
        if bases == ANY_CLASS or issubclass(returned, tuple(bases)):
            return None
    if not callable(found):
        return f"{path} is a {type(found).__name__}, not {expected}"
    said = (
        "declares no return type"
        if returned is inspect.Parameter.empty
        else (f"returns {getattr(returned, '__qualname__', returned)}")
    )
    return f"{path} is a function that {said}, not {expected} (or a factory returning one)"


def _class_paths(node: Any, key: str, hint: Any) -> Iterator[tuple[str, str, frozenset[type]]]:
    """(key, class path, bases of its slot) of every class path in a config value."""
    bases = slot_bases(hint)
    if isinstance(node, Namespace | dict) and isinstance(node.get("class_path"), str):
        yield key, node["class_path"], bases
        try:
            hints = parameter_hints(resolve_name(node["class_path"]))
        except (ImportError, AttributeError, ValueError):
            return  # the parser names a class path that does not import
        for name, value in _entries(node.get("init_args")):
            yield from _class_paths(value, f"{key}.init_args.{name}", hints.get(name, Any))
    elif isinstance(node, Namespace | dict):
        group = next(iter(bases)) if len(bases) == 1 else None
        fields = parameter_hints(group) if group and dataclasses.is_dataclass(group) else None
        for name, value in _entries(node):
            inner = fields.get(name, Any) if fields is not None else _items(hint)
            yield from _class_paths(value, f"{key}.{name}", inner)
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            yield from _class_paths(value, f"{key}[{index}]", _items(hint))


def _entries(node: Namespace | dict | None) -> Iterator[tuple[str, Any]]:
    """The top-level keys and values of a config node (a Namespace iterates its leaves)."""
    return iter(vars(node).items() if isinstance(node, Namespace) else (node or {}).items())


def _items(hint: Any) -> Any:
    """The hint of the items of a list, or of the values of a mapping, of type `hint`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in _UNIONS:
        containers = [arg for arg in args if typing.get_origin(arg) is not None]
        return functools.reduce(operator.or_, map(_items, containers)) if containers else hint
    if origin is not None and args and not (origin is Callable or origin is typing.Callable):
        return args[-1] if args[-1] is not Ellipsis else args[0]
    return hint


def check_class_paths(config: Namespace) -> None:
    """ConfigError naming the first class path of `data`, `model` or `trainer` not fit for its slot.

    `data` takes LightningDataModules, `model` LightningModules, and each argument of
    theirs and of the Trainer the classes its type hint names (see `slot_bases`).
    """
    from lightning.pytorch import LightningDataModule, LightningModule, Trainer

    found = [
        *_class_paths(config.get("data"), "data", LightningDataModule),
        *_class_paths(config.get("model"), "model", LightningModule),
    ]
    trainer_hints = parameter_hints(Trainer)
    for name, value in _entries(config.get("trainer")):
        found += _class_paths(value, f"trainer.{name}", trainer_hints.get(name, Any))
    for key, path, bases in found:
        if bases and (reason := refusal(path, bases)) is not None:
            raise ConfigError(f"{key}: {reason}; name one that is (`make components` lists them)")

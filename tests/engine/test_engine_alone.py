"""The engine's suite stands on its own test project: it never names the template's example.

A researcher replaces the example (digits, MNIST, SimpleNet, the autoencoder, their
configs); the engine's tests must then still run. They train on `tests/toy.py` with
`tests/configs/`; this test fails when one of them imports the example's packages, names
one of its classes or reads one of its configs.
"""

import re

import pytest

from helpers import ROOT

#: The researcher's packages in src/ and their config folders.
PACKAGES = "data_modules|models|tasks|metrics|callbacks"
FOLDERS = "data|model|experiment|sweep"
REACHES = [
    rf"^\s*(from|import) ({PACKAGES})\b",  # an import of the example's code
    rf"(?<![\w.])({PACKAGES})\.[A-Z]\w+",  # a class path into it
    rf"configs/({FOLDERS})/\w+\.yaml",  # one of its configs
    rf"\"configs\" / \"({FOLDERS})\"",
    r"\b(DIGITS|mnist_dir)\b",  # the example's recipe and data fixture
]
ENGINE_SUITE = sorted(
    [*(ROOT / "tests" / "engine").glob("*.py"), ROOT / "tests" / "toy.py"]
    + [*(ROOT / "tests" / "configs").glob("*.yaml")]
)


def reaches_into_the_example(text: str) -> list[str]:
    """The lines of `text` that depend on the example."""
    return [
        line.strip()
        for line in text.splitlines()
        if any(re.search(pattern, line) for pattern in REACHES)
    ]


@pytest.mark.parametrize("path", ENGINE_SUITE, ids=lambda p: p.name)
def test_an_engine_test_file_never_names_the_example(path):
    if path == ROOT / "tests" / "engine" / "test_engine_alone.py":
        return  # the patterns themselves
    assert reaches_into_the_example(path.read_text()) == [], path


@pytest.mark.parametrize(
    "line",
    [
        "from models import SimpleNet",
        "    class_path: data_modules.DigitsDataModule",
        'run_cli("fit", "-c", "configs/model/simplenet.yaml")',
        'ROOT / "configs" / "data" / "digits.yaml"',
        "def test_x(mnist_dir):",
    ],
)
def test_each_kind_of_reach_is_seen(line):
    assert reaches_into_the_example(line) == [line.strip()]


def test_the_engines_own_names_are_not_reaches():
    text = "from runforge.tasks import ImageClassifier\nclass_path: runforge.callbacks.Curves\n"
    text += '"-c", "configs/debug/overfit.yaml"\nnet: toy.TinyNet\n'
    assert reaches_into_the_example(text) == []

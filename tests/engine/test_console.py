"""What a person reads in the console of `make train`: no warnings, tips or empty numbers."""

import logging
import re
import warnings

from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities._pytree import _tree_flatten

from helpers import TOY, run_main
from runforge.cli.quiet import quiet_lightning


def test_the_default_fit_prints_no_warning_or_tip(tmp_path):
    # Python's default warning filters (run_main silences warnings unless told otherwise).
    result = run_main(
        "fit", *TOY, "--trainer.max_epochs", "1", "--run.root", str(tmp_path),
        env={"PYTHONWARNINGS": ""},
    )  # fmt: skip
    console = result.stdout + result.stderr
    assert result.returncode == 0, console[-3000:]
    noise = [
        line
        for line in console.splitlines()
        if re.search(r"warn|tip:|deprecat|litlogger|FLOPs: 0\b|already configured", line, re.I)
    ]
    assert not noise, noise
    flops = re.search(r"Total FLOPs: ([\d.]+) ?([KMG]?)", console)
    assert flops and float(flops.group(1)) > 0, "the summary counts FLOPs on an example image"


def test_quiet_lightning_drops_only_its_four_messages(caplog):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet_lightning()
        _tree_flatten(1)  # Lightning builds torch's deprecated LeafSpec here
        warnings.warn_explicit(
            "Checkpoint directory /run/checkpoints exists and is not empty.", UserWarning,
            "model_checkpoint.py", 1, module="lightning.pytorch.callbacks.model_checkpoint",
        )  # fmt: skip
        warnings.warn("another deprecation", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["another deprecation"]
    with caplog.at_level(logging.INFO):
        rank_zero_info("💡 Tip: try installing litlogger")
        rank_zero_info("Trainer already configured with model summary callbacks: [X].")
        rank_zero_info("Seed set to 1")
    assert caplog.messages == ["Seed set to 1"]

"""Keep four messages of Lightning off the console; each is matched by its text, nothing else."""

import logging
import warnings

from lightning_utilities.core import rank_zero

#: Beginnings of Lightning's info lines that are not about the run.
_DROPPED = ("💡 Tip:", "Trainer already configured with model summary callbacks")


def _not_dropped(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith(_DROPPED)


def quiet_lightning() -> None:
    """Drop Lightning's product tips, a summary notice, a torch deprecation, a resume warning.

    - Every fit, Lightning logs "💡 Tip: ... try installing litlogger" (or litmodels): an
      advert, not about the run.
    - "Trainer already configured with model summary callbacks ... Skipping setting a
      default `ModelSummary`": the summary callback is in the config on purpose.
    - Lightning 2.6's `utilities/_pytree.py` builds torch's `LeafSpec`, which newer torch
      deprecates with a FutureWarning, twice per fit; only a Lightning release can act on it.
    - "Checkpoint directory ... exists and is not empty" on every resume: the CLI refuses a
      new fit in a run that has checkpoints, so a fit finds them only when it resumes.

    Every other log line and warning is kept. Calling it again adds nothing.
    """
    rank_zero.log.addFilter(_not_dropped)  # the logger behind Lightning's rank_zero_info
    warnings.filterwarnings(
        "ignore",
        message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
        category=FutureWarning,
        module=r"lightning\.pytorch\.utilities\._pytree",
    )
    warnings.filterwarnings(
        "ignore",
        message=r"Checkpoint directory .* exists and is not empty",
        module=r"lightning\.pytorch\.callbacks\.model_checkpoint",
    )

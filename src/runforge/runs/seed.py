"""The seed of `seed_everything: true`: drawn at random, the same in every process of a run."""

import hashlib
import os
import secrets

from runforge.runs.directory import launcher_version


def random_seed() -> int:
    """A random seed in [0, 2**32) for `seed_everything: true` (Lightning's `true` seeds 0).

    Processes that Lightning starts for the other devices inherit the seed of the launching
    process (`PL_GLOBAL_SEED`); under `torchrun` and multi-task `srun` every process derives
    it from the launch's id (see `launcher_version`), so all ranks agree without talking.
    """
    launch = launcher_version()
    if launch is not None:
        return int.from_bytes(hashlib.sha256(launch.encode()).digest()[:4], "big")
    inherited = os.environ.get("PL_GLOBAL_SEED")
    if inherited is not None and os.environ.get("LOCAL_RANK", "0") != "0":
        return int(inherited)
    return secrets.randbelow(2**32)

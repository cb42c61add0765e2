"""A callback for `benchmarks/startup.py`: reports when the first training step starts."""

import time

from lightning.pytorch import Callback


class FirstStep(Callback):
    """Print `first_step <unix time> <process CPU seconds>` at the first batch, then stop."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: D102
        print(f"first_step {time.time()} {time.process_time()}", flush=True)
        trainer.should_stop = True

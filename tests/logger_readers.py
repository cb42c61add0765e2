"""Read what each logger wrote, with that logger's own file formats and readers."""

import json
from pathlib import Path

from wandb_files import iter_records as wandb_records


def tensorboard_hparams(folder: Path) -> dict:
    """The hyperparameters TensorBoard's HPARAMS tab shows for a run folder."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    accumulator = EventAccumulator(str(folder))
    accumulator.Reload()
    content = accumulator.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    out = {}
    for key, value in data.session_start_info.hparams.items():
        kind = value.WhichOneof("kind")
        out[key] = getattr(value, kind) if kind else None
    return out


def tensorboard_scalars(folder: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) of one scalar over every event file in a TensorBoard folder."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    accumulator.Reload()
    return [(event.step, event.value) for event in accumulator.Scalars(tag)]


def _key(item) -> str:
    return item.key or "/".join(item.nested_key)


def wandb_offline_runs(run_dir: Path) -> list[Path]:
    """The offline W&B run files under `<run>/wandb/`, oldest first."""
    return sorted(run_dir.glob("wandb/offline-run-*/run-*.wandb"))


def wandb_run_id(path: Path) -> str:
    """The W&B run id recorded in an offline run file."""
    kinds = []
    for record in wandb_records(path):
        kinds.append(record.WhichOneof("record_type"))
        if kinds[-1] == "run":
            return record.run.run_id
    raise AssertionError(f"{path} ({path.stat().st_size} bytes) has no run record: {kinds}")


def wandb_config(path: Path) -> dict:
    """The W&B run config (all config updates merged) of an offline run file."""
    config = {}
    for record in wandb_records(path):
        if record.WhichOneof("record_type") == "config":
            for item in record.config.update:
                config[_key(item)] = json.loads(item.value_json)
    return config


def wandb_history_steps(path: Path, key: str) -> list[int]:
    """The `trainer/global_step` of every history row of an offline run file that has `key`."""
    steps = []
    for record in wandb_records(path):
        if record.WhichOneof("record_type") == "history":
            items = {_key(item): item.value_json for item in record.history.item}
            if key in items:
                steps.append(int(float(items["trainer/global_step"])))
    return steps

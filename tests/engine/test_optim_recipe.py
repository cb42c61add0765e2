"""Optimization recipes through the CLI: warmup+cosine, LR curve, resume, EMA, nominal batch."""

import csv
from pathlib import Path

import pytest
import torch
from lightning.pytorch.callbacks import EMAWeightAveraging

from helpers import TOY, only_run_dir, run_cli
from runforge.callbacks import NominalBatchSize
from runforge.optim import PlannedLR

#: The example's warmup+cosine recipe (its settings) on the engine's test model.
RECIPE = [
    *TOY,
    "--model.optimizer.weight_decay",
    "0.05",
    "--model.lr_scheduler.warmup_steps",
    "0.1",
]
RECIPE += ["--model.lr_scheduler.initial_factor", "0.01", "--model.lr_scheduler.lr_end", "1e-5"]
EMA = ["-c", "configs/callbacks/ema.yaml"]
SHORT = ["--trainer.limit_train_batches", "5", "--trainer.limit_val_batches", "2"]
EVERY_STEP = ["--trainer.log_every_n_steps", "1"]


def fit(logs: Path, *args: str):
    return run_cli("fit", *RECIPE, "--run.root", str(logs), *args)


def read_plan(run: Path) -> dict[str, list[float]]:
    with open(run / "lr_curve.csv") as file:
        rows = list(csv.DictReader(file))
    assert [int(r["step"]) for r in rows] == list(range(len(rows)))
    return {key: [float(r[key]) for r in rows] for key in rows[0] if key != "step"}


def read_tensorboard(run: Path) -> tuple[dict[str, dict[int, float]], list[str]]:
    """Scalars {tag: {step: value}} (the last value per step wins) and image tags."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scalars: dict[str, dict[int, float]] = {}
    images: list[str] = []
    for events in sorted((run / "tensorboard").glob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0, "images": 0})
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            scalars.setdefault(tag, {}).update({e.step: e.value for e in accumulator.Scalars(tag)})
        images += accumulator.Tags()["images"]
    return scalars, images


def test_logged_lr_matches_the_planned_curve_step_by_step(tmp_path):
    cli = fit(tmp_path / "logs", "--trainer.max_epochs", "2", *EVERY_STEP)
    run = only_run_dir(tmp_path / "logs")
    assert (run / "lr_curve.png").stat().st_size > 10_000
    plan = read_plan(run)
    total = cli.trainer.estimated_stepping_batches
    assert set(plan) == {"lr-AdamW/decay", "lr-AdamW/no_decay"}
    assert all(len(rates) == total == cli.trainer.global_step for rates in plan.values())
    warmup = round(0.1 * total)
    assert plan["lr-AdamW/decay"][0] == pytest.approx(0.01 * 0.003, abs=1e-9)
    assert plan["lr-AdamW/decay"][warmup] == pytest.approx(0.003, abs=1e-9)
    assert plan["lr-AdamW/decay"][-1] == pytest.approx(1e-5, abs=1e-9)
    scalars, images = read_tensorboard(run)
    assert "lr_curve" in images
    for name, rates in plan.items():
        logged = scalars[name]
        assert sorted(logged) == list(range(total)), name
        # TensorBoard stores float32
        assert [logged[s] for s in range(total)] == pytest.approx(rates, rel=1e-6), name
    assert cli.trainer.lr_scheduler_configs[0].interval == "step"


def test_resume_mid_run_continues_the_learning_rate_exactly(tmp_path):
    """A run planned for 4 epochs, stopped after 2 and resumed, follows the 4-epoch plan."""
    whole = fit(tmp_path / "whole", "--trainer.max_epochs", "4", *SHORT, *EVERY_STEP)
    total = whole.trainer.estimated_stepping_batches
    planned = read_plan(only_run_dir(tmp_path / "whole"))["lr-AdamW/decay"]

    first = ["--trainer.max_epochs", "2", *SHORT, *EVERY_STEP]
    fit(tmp_path / "parts", *first, "--model.lr_scheduler.total_steps", str(total))
    run = only_run_dir(tmp_path / "parts")
    first_half = read_plan(run)["lr-AdamW/decay"]
    assert first_half == pytest.approx(planned[: len(first_half)], rel=1e-12)
    curve = (run / "lr_curve.csv").read_text()
    resumed = run_cli(
        "fit", "-c", str(run / "config.yaml"), "--ckpt_path", "last", "--trainer.max_epochs", "4"
    )
    assert only_run_dir(tmp_path / "parts") == run, "resume continues in the same run"
    assert (run / "lr_curve.csv").read_text() == curve, "a resume keeps the curve of the start"
    scheduler = resumed.trainer.lr_scheduler_configs[0].scheduler
    assert isinstance(scheduler, PlannedLR) and scheduler.total_steps == total
    logged = read_tensorboard(run)[0]["lr-AdamW/decay"]
    assert sorted(logged) == list(range(total))
    assert [logged[s] for s in range(total)] == pytest.approx(planned, rel=1e-6)
    assert resumed.trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(
        whole.trainer.optimizers[0].param_groups[0]["lr"], abs=1e-12
    )


def test_the_lr_curve_marks_where_a_run_stopped_before_its_plan(tmp_path):
    from lightning.pytorch.callbacks import EarlyStopping
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from runforge.cli.cli import CLI

    args = [*RECIPE, "--run.root", str(tmp_path), "--trainer.max_epochs", "2", *SHORT]
    cli = CLI(args=args, run=False)  # planned: 2 epochs of 5 steps
    cli.trainer.callbacks.append(EarlyStopping("val/loss", stopping_threshold=1e9))  # stops at 5
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    run = only_run_dir(tmp_path)
    assert cli.trainer.global_step == 5 and len(read_plan(run)["lr-AdamW/decay"]) == 10
    [events] = (run / "tensorboard").glob("events.out.tfevents.*")
    accumulator = EventAccumulator(str(events), size_guidance={"images": 0})
    accumulator.Reload()
    # Drawn as planned at the start (step 0), redrawn with the stop marked at the end.
    assert [image.step for image in accumulator.Images("lr_curve")] == [0, 5]
    assert (run / "lr_curve.png").stat().st_size > 10_000


def _ema(cli) -> EMAWeightAveraging:
    return next(c for c in cli.trainer.callbacks if isinstance(c, EMAWeightAveraging))


def test_ema_preset_appends_and_checkpoints_keep_the_average_across_resume(tmp_path):
    logs = tmp_path / "logs"
    cli = fit(logs, *EMA, "--trainer.max_epochs", "1", *SHORT)
    names = [type(c).__name__ for c in cli.trainer.callbacks]
    assert {"EMAWeightAveraging", "LRCurve", "ModelCheckpoint"} <= set(names)
    run = only_run_dir(logs)
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert int(ckpt["averaging_state"]["n_averaged"]) == 5
    key = "net.classifier.2.weight"
    assert not torch.equal(ckpt["state_dict"][key], ckpt["current_model_state"][key])
    # The best checkpoint holds the average, and its val/acc (in its name) was measured on
    # the average: validating the saved weights again gives the same number.
    best = next(p for p in (run / "checkpoints").glob("*.ckpt") if p.name != "last.ckpt")
    assert "current_model_state" in torch.load(best, weights_only=True)
    validated = run_cli("validate", "-c", str(run / "config.yaml"), "--ckpt_path", str(best))
    recorded = float(best.stem.split("val_acc")[1])
    assert float(validated.trainer.callback_metrics["val/acc"]) == pytest.approx(recorded, abs=1e-4)

    resumed = run_cli("fit", "-c", str(run / "config.yaml"), "--ckpt_path", "last",
                      "--trainer.max_epochs", "2")  # fmt: skip
    average = _ema(resumed)._average_model
    assert int(average.n_averaged) == 10 == resumed.trainer.global_step, "the average went on"


def test_nominal_batch_size_sets_accumulation_and_scales_weight_decay(tmp_path):
    cli = fit(
        tmp_path / "logs",
        "-c", "configs/callbacks/nominal_batch_size.yaml",
        "--trainer.callbacks.nominal_batch_size", "100",
        "--trainer.max_epochs", "1",
        *SHORT,
    )  # fmt: skip
    callback = next(c for c in cli.trainer.callbacks if isinstance(c, NominalBatchSize))
    assert callback.nominal_batch_size == 100
    assert cli.trainer.accumulate_grad_batches == 2  # round(100 / 64)
    assert cli.trainer.estimated_stepping_batches == 3 == cli.trainer.global_step  # ceil(5 / 2)
    groups = {g["name"]: g["weight_decay"] for g in cli.trainer.optimizers[0].param_groups}
    assert groups == {"decay": pytest.approx(0.05 * 64 * 2 / 100), "no_decay": 0.0}
    run = only_run_dir(tmp_path / "logs")
    assert len(read_plan(run)["lr-AdamW/decay"]) == 3


def test_schedule_and_start_settings_from_the_command_line(tmp_path):
    before = torch.get_float32_matmul_precision()
    try:
        cli = run_cli(
            "fit", "-c", "tests/configs/toy_data.yaml", "-c", "tests/configs/toy_model.yaml",
            "--run.root", str(tmp_path / "logs"),
            "--model.lr_scheduler", "runforge.optim.WarmupSchedule",
            "--model.lr_scheduler.warmup_steps", "2",
            "--model.lr_scheduler.decay", "linear",
            "--model.no_weight_decay", "null",
            "--float32_matmul_precision", "medium",
            "--trainer.max_epochs", "1", *SHORT,
        )  # fmt: skip
        assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.set_float32_matmul_precision(before)
    config = cli.trainer.lr_scheduler_configs[0]
    assert config.interval == "step", "the schedule steps per step whatever the interval says"
    assert [g["name"] for g in cli.trainer.optimizers[0].param_groups] == ["decay"]
    assert config.scheduler.get_last_lr()[0] == pytest.approx(0.0, abs=1e-12)


def test_bad_schedule_values_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match=r"warmup_steps=-3 must be >= 0"):
        fit(tmp_path / "logs", "--model.lr_scheduler.warmup_steps", "-3")
    with pytest.raises(ValueError, match=r"warmup_steps=500 .* total_steps=5 "):
        fit(
            tmp_path / "logs",
            "--model.lr_scheduler.warmup_steps",
            "500",
            "--trainer.max_steps",
            "5",
        )

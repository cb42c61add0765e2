"""Export the trained model to ONNX, with the data module's preprocessing built in."""

import itertools
import json
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only, rank_zero_warn
from torch import Tensor, nn

from runforge.runs.directory import run_dir
from runforge.runs.resolve import trained_best

#: Subfolder of the run directory that receives the exported files.
EXPORT_DIR = "export"
#: Weights larger than this go into a separate file (an ONNX file holds at most 2 GB).
ONE_FILE_LIMIT = 1_800_000_000


class Deployable(nn.Module):
    """The model as deployed: `model(preprocess(inputs))`, or `model(inputs)` without one."""

    def __init__(self, model: nn.Module, preprocess: Callable[[Tensor], Tensor] | None) -> None:
        super().__init__()
        self.model = model
        self.preprocess = preprocess

    def forward(self, inputs: Tensor) -> Tensor:
        """Outputs of the model for raw inputs as the data loaders yield them."""
        return self.model(self.preprocess(inputs) if self.preprocess else inputs)


def export_onnx(
    model: nn.Module, example: Tensor, path: Path, opset_version: int | None = None
) -> float:
    """Write `model` to `path` as ONNX with a dynamic batch size; return the check's error.

    The file is run with onnxruntime on `example` (a batch of real inputs) and the largest
    absolute difference from torch's outputs is returned. The model is exported on the CPU
    in eval mode; `example`'s first dimension is the batch. Weights go into the one file,
    or beside it as `<path>.data` when they are too large for it (protobuf's 2 GB limit).
    """
    import numpy as np
    import onnxruntime

    model, example = model.cpu().eval(), example.cpu()
    path.parent.mkdir(parents=True, exist_ok=True)
    batch = torch.export.Dim("batch", min=1)
    weight_bytes = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    torch.onnx.export(
        model,
        (example,),
        str(path),
        input_names=["inputs"],
        output_names=["outputs"],
        dynamic_shapes={"inputs": {0: batch}},
        opset_version=opset_version,
        external_data=weight_bytes > ONE_FILE_LIMIT,
        dynamo=True,
        verbose=False,
    )
    with torch.no_grad():
        expected = model(example).numpy()
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (actual,) = session.run(None, {"inputs": example.numpy()})
    return float(np.abs(actual - expected).max())


def add_metadata(path: Path, metadata: dict[str, Any]) -> None:
    """Store `metadata` in the ONNX file's `metadata_props`, each value as JSON text."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=json.dumps(value))
    onnx.save(model, str(path))


def quantize_onnx(path: Path, output: Path, calibration: Iterable[Tensor]) -> None:
    """Write an int8 copy of the ONNX model at `path` to `output` (post-training quantization).

    onnxruntime's static quantization: weights int8 per output channel, activations uint8
    with ranges calibrated on the `calibration` batches (raw inputs, as for the export),
    stored as QuantizeLinear/DequantizeLinear pairs (QDQ), which CPU and TensorRT
    execution providers run as int8 kernels.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = ({"inputs": batch.cpu().numpy()} for batch in calibration)

        def get_next(self) -> dict | None:
            return next(self.batches, None)

    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch, "prepared.onnx")  # shapes inferred, graph optimised
        quant_pre_process(str(path), str(prepared))
        quantize_static(
            str(prepared),
            str(output),
            Batches(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )


def argmax_agreement(float_path: Path, int8_path: Path, inputs: Tensor) -> float:
    """The fraction of `inputs` whose largest output has the same index in both models."""
    import onnxruntime

    feed = {"inputs": inputs.cpu().numpy()}
    outputs = [
        onnxruntime.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, feed)[0]
        for p in (float_path, int8_path)
    ]
    return float((outputs[0].argmax(-1) == outputs[1].argmax(-1)).mean())


def deployment_metadata(datamodule: Any) -> dict[str, Any]:
    """What a program running the export needs from the data: class names, the pixel scale."""
    keys = ("class_names", "max_value")
    return {key: getattr(datamodule, key) for key in keys if hasattr(datamodule, key)}


def stage_inputs(trainer: Trainer) -> Iterable[Tensor]:
    """Batches of raw inputs from the data the command used (validation data after fit)."""
    loaders = {
        TrainerFn.FITTING: trainer.val_dataloaders or trainer.train_dataloader,
        TrainerFn.VALIDATING: trainer.val_dataloaders,
        TrainerFn.TESTING: trainer.test_dataloaders,
        TrainerFn.PREDICTING: trainer.predict_dataloaders,
    }[trainer.state.fn]
    if isinstance(loaders, dict):  # several named loaders: the first one
        loaders = next(iter(loaders.values()))
    elif isinstance(loaders, list | tuple):
        loaders = loaders[0]
    return (batch[0] if isinstance(batch, list | tuple) else batch for batch in loaders)


class ONNXExport(Callback):
    """Export the model to `<run>/export/<checkpoint>.onnx` and check it with onnxruntime.

    After `fit` it exports the best checkpoint (the final weights, as `final.onnx`, when
    no `ModelCheckpoint` monitors a metric); after `test`, `validate` or `predict`, the
    checkpoint given by `--ckpt_path`. The ONNX graph takes the raw inputs as the data
    loaders yield them (uint8 images for the template's data modules) when the data module
    has a `preprocess(inputs)` method, which is built into the graph; otherwise it takes
    what the model's `forward` takes. The batch size is dynamic, the input is named
    `inputs` and the output `outputs` (the class logits for `runforge.tasks.ImageClassifier`).
    The file's metadata holds the data's `class_names` and `max_value` as JSON, which
    `scripts/predict_onnx.py` reads.

    With `int8`, an int8 copy `<checkpoint>.int8.onnx` is written as well (see
    `quantize_onnx`), calibrated on batches of the same data, and how often its top class
    agrees with the float model's on one batch is printed.

    Args:
        opset_version: ONNX opset to target; `null` for the exporter's default.
        atol: Largest absolute difference between onnxruntime's and torch's outputs on a
            batch of real inputs that passes the check; a larger one is warned about.
        int8: Also write a post-training int8 quantized copy.
        calibration_batches: How many batches calibrate the int8 activation ranges.
    """

    def __init__(
        self,
        opset_version: int | None = None,
        atol: float = 1e-4,
        int8: bool = False,
        calibration_batches: int = 8,
    ) -> None:
        if calibration_batches < 1:
            raise ValueError(f"calibration_batches={calibration_batches} must be at least 1")
        self.opset_version = opset_version
        self.atol = atol
        self.int8 = int8
        self.calibration_batches = calibration_batches
        self._exported: set[str | None] = set()  # `--test_after_fit` tests what fit exported

    @rank_zero_only
    def _export(self, trainer: Trainer, pl_module: LightningModule, ckpt: str | None) -> None:
        if trainer.fast_dev_run or ckpt in self._exported:
            return
        self._exported.add(ckpt)
        name = f"{Path(ckpt).stem if ckpt else 'final'}.onnx"
        path = run_dir(trainer) / EXPORT_DIR / name
        deployable = Deployable(pl_module, getattr(trainer.datamodule, "preprocess", None))
        device, training = pl_module.device, pl_module.training
        pl_module.cpu()
        trained = {key: value.clone() for key, value in pl_module.state_dict().items()}
        try:
            if ckpt:
                state = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
                pl_module.load_state_dict(state)
            example = next(iter(stage_inputs(trainer)))
            error = export_onnx(deployable, example, path, self.opset_version)
            add_metadata(path, deployment_metadata(trainer.datamodule))
        finally:  # the trainer's model goes on with its own weights, device and mode
            pl_module.load_state_dict(trained)
            pl_module.to(device).train(training)
        rank_zero_info(
            f"ONNX export: {ckpt or 'final weights'} -> {path} "
            f"(onnxruntime vs torch on one batch: max abs difference {error:.2e})"
        )
        if error > self.atol:
            rank_zero_warn(f"ONNX export: {path} differs from torch by {error:.2e} > {self.atol=}")
        if self.int8:
            int8_path = path.with_suffix(".int8.onnx")
            calibration = itertools.islice(stage_inputs(trainer), self.calibration_batches)
            quantize_onnx(path, int8_path, calibration)
            agreement = argmax_agreement(path, int8_path, example)
            rank_zero_info(
                f"ONNX export: int8 copy {int8_path} ({int8_path.stat().st_size} bytes, float "
                f"{path.stat().st_size}); top class agrees with float on {agreement:.1%} of "
                f"{len(example)} inputs"
            )

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Export the best checkpoint of the fit."""
        best = trained_best(trainer)
        self._export(trainer, pl_module, str(best) if best else None)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Export after a `validate` run (not the validation inside `fit`)."""
        if trainer.state.fn == TrainerFn.VALIDATING:
            self._export(trainer, pl_module, trainer.ckpt_path)

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Export after a `test` run."""
        self._export(trainer, pl_module, trainer.ckpt_path)

    def on_predict_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Export after a `predict` run."""
        self._export(trainer, pl_module, trainer.ckpt_path)

"""Export the trained model to ONNX, with the data module's preprocessing built in."""

from collections.abc import Callable
from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only, rank_zero_warn
from torch import Tensor, nn

from runs.test_after_fit import best_checkpoint

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


def first_inputs(trainer: Trainer) -> Tensor:
    """A batch of raw inputs from the data the command used (validation data after fit)."""
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
    batch = next(iter(loaders))
    return batch[0] if isinstance(batch, list | tuple) else batch


class ONNXExport(Callback):
    """Export the model to `<run>/export/<checkpoint>.onnx` and check it with onnxruntime.

    After `fit` it exports the best checkpoint (the final weights, as `final.onnx`, when
    no `ModelCheckpoint` monitors a metric); after `test`, `validate` or `predict`, the
    checkpoint given by `--ckpt_path`. The ONNX graph takes the raw inputs as the data
    loaders yield them (uint8 images for the template's data modules) when the data module
    has a `preprocess(inputs)` method, which is built into the graph; otherwise it takes
    what the model's `forward` takes. The batch size is dynamic, the input is named
    `inputs` and the output `outputs` (the class logits for `tasks.ImageClassifier`).

    Args:
        opset_version: ONNX opset to target; `null` for the exporter's default.
        atol: Largest absolute difference between onnxruntime's and torch's outputs on a
            batch of real inputs that passes the check; a larger one is warned about.
    """

    def __init__(self, opset_version: int | None = None, atol: float = 1e-4) -> None:
        self.opset_version = opset_version
        self.atol = atol
        self._exported: set[str | None] = set()  # `--test_after_fit` tests what fit exported

    @rank_zero_only
    def _export(self, trainer: Trainer, pl_module: LightningModule, ckpt: str | None) -> None:
        if trainer.fast_dev_run or ckpt in self._exported:
            return
        self._exported.add(ckpt)
        name = f"{Path(ckpt).stem if ckpt else 'final'}.onnx"
        path = Path(trainer.default_root_dir, EXPORT_DIR, name)
        deployable = Deployable(pl_module, getattr(trainer.datamodule, "preprocess", None))
        device, training = pl_module.device, pl_module.training
        pl_module.cpu()
        trained = {key: value.clone() for key, value in pl_module.state_dict().items()}
        try:
            if ckpt:
                state = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
                pl_module.load_state_dict(state)
            error = export_onnx(deployable, first_inputs(trainer), path, self.opset_version)
        finally:  # the trainer's model goes on with its own weights, device and mode
            pl_module.load_state_dict(trained)
            pl_module.to(device).train(training)
        rank_zero_info(
            f"ONNX export: {ckpt or 'final weights'} -> {path} "
            f"(onnxruntime vs torch on one batch: max abs difference {error:.2e})"
        )
        if error > self.atol:
            rank_zero_warn(f"ONNX export: {path} differs from torch by {error:.2e} > {self.atol=}")

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Export the best checkpoint of the fit."""
        best = best_checkpoint(trainer)
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

"""Classify image files with an exported ONNX model: onnxruntime, numpy and Pillow, no torch.

    python scripts/predict_onnx.py logs/<name>/<version>/export/<checkpoint>.onnx photos/ \
        [more files or folders] [--output predictions.csv] [--top_k 3]

The model is one exported by `runforge.callbacks.ONNXExport`
(configs/callbacks/onnx_export.yaml): it takes images as the data stores them (uint8,
preprocessing built in) and returns class logits; its metadata holds the class names and
the pixel scale. Each image is converted to the model's channels (Pillow's RGB / L) and
resized to its height and width (bilinear, antialiased), like `ImageFolderDataModule` does
with torchvision. Prints (or writes) a CSV with the columns of `predict`'s predictions.csv:
path, label (a parent folder named after a class), pred, pred_name, prob and the runners-up.
"""

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def image_files(names: list[str]) -> list[Path]:
    """The files named, with the images in every folder named (sorted, sub-folders too)."""
    found: list[Path] = []
    for name in names:
        path = Path(name)
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
            )  # fmt: skip
        elif path.is_file():
            found.append(path)
        else:
            sys.exit(f"error: {path} is neither a file nor a folder")
    return found


def read_image(path: Path, channels: int, height: int, width: int, max_value: float):
    """One image as (channels, height, width) uint8 in the model's pixel scale, or None."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image = image.convert("RGB" if channels == 3 else "L")
            if image.size != (width, height):
                image = image.resize((width, height), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    if max_value != 255.0:
        pixels = np.round(pixels.astype(np.float32) * (max_value / 255.0)).astype(np.uint8)
    return pixels


def predict(model: Path, names: list[str], top_k: int = 3) -> tuple[list[str], list[list]]:
    """The CSV header and one row per readable image."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    meta = {k: json.loads(v) for k, v in session.get_modelmeta().custom_metadata_map.items()}
    (spec,) = session.get_inputs()
    channels, height, width = spec.shape[1:]
    classes = meta.get("class_names") or [str(i) for i in range(session.get_outputs()[0].shape[1])]

    def name(index: int) -> str:
        return classes[index]

    rows, skipped = [], []
    files = image_files(names)
    for start in range(0, len(files), 64):
        batch, kept = [], []
        for path in files[start : start + 64]:
            pixels = read_image(path, channels, height, width, meta.get("max_value", 255.0))
            if pixels is None:
                skipped.append(path)
            else:
                batch.append(pixels)
                kept.append(path)
        if not batch:
            continue
        (logits,) = session.run(None, {spec.name: np.stack(batch)})
        if logits.ndim != 2:
            sys.exit(f"error: {model} returns shape {logits.shape}, not class logits")
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        order = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]
        for path, ranked, p in zip(kept, order, probs, strict=True):
            label = classes.index(path.parent.name) if path.parent.name in classes else ""
            row = [str(path), label, "" if label == "" else name(label)]
            row += [int(ranked[0]), name(int(ranked[0])), float(p[ranked[0]])]
            for k in ranked[1:]:
                row += [int(k), name(int(k)), float(p[k])]
            rows.append(row)
    if skipped:
        shown = ", ".join(map(str, skipped[:5]))
        print(f"{len(skipped)} unreadable image file(s) skipped: {shown}", file=sys.stderr)
    header = ["path", "label", "label_name", "pred", "pred_name", "prob"]
    for k in range(2, min(top_k, len(classes)) + 1):
        header += [f"top{k}", f"top{k}_name", f"top{k}_prob"]
    return header, rows


def main() -> None:
    """Parse the command line, predict, print or write the CSV."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="the exported .onnx file")
    parser.add_argument("inputs", nargs="+", help="image files and folders of images")
    parser.add_argument("--output", type=Path, help="CSV file to write (default: stdout)")
    parser.add_argument("--top_k", type=int, default=3, help="classes per image, best first")
    args = parser.parse_args()
    header, rows = predict(args.model, args.inputs, args.top_k)
    if args.output is None:
        csv.writer(sys.stdout).writerows([header, *rows])
        return
    with open(args.output, "w", newline="") as file:
        csv.writer(file).writerows([header, *rows])
    print(f"{len(rows)} predictions written to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()

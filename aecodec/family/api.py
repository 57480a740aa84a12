"""The family's public calls, as the command line uses them: train a model from a preset, load
one, and turn a model and data into codes, pictures and scores.

    ae = load("mnist-conv")                     # or load(weights="runs/mine.safetensors")
    data = examples(ae, None)                   # the model's demo data, in its input layout
    png, mse = reconstruction(ae, data, count=10)

Functions here return bytes and numbers; the caller decides where they go (`train` is the one
that writes files, since it checkpoints while it runs).
"""

import io
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from aecodec.errors import DataError, ShapeMismatch
from aecodec.family import zoo
from aecodec.family.data import Dataset, load_data, load_image_as
from aecodec.family.losses import negative_elbo, reconstruction_mse
from aecodec.family.plots import image_grid, png_bytes, scatter_png, to_2d
from aecodec.family.presets import from_preset
from aecodec.files import atomic_write, check_output

if TYPE_CHECKING:
    from aecodec.family.estimators import Autoencoder

CODE_SUFFIXES = (".npy", ".csv")


def load(name: str | None = None, *, weights: str | Path | None = None) -> "Autoencoder":
    """A fitted Autoencoder: a shipped or installed one by name, or the one stored at `weights`."""
    from aecodec.family.estimators import Autoencoder  # scikit-learn: only when needed

    return Autoencoder.load(name, weights=weights)


def catalogue() -> dict[str, dict]:
    """Shipped and installed autoencoders -> their cards."""
    return zoo.MODELS.cards()


@dataclass
class Trained:
    weights: Path
    grid: Path
    epochs: int
    loss: float
    scores: dict  # held-out scores, empty without a hold-out


def train(
    data: str, output: str | Path, preset: str = "dense", *, settings: dict | None = None,
    holdout: int = 0, description: str | None = None, demo_data: str | None = None,
    command: str | None = None, force: bool = False,
) -> Trained:  # fmt: skip
    """Fit a preset (its settings changed by `settings`, Autoencoder keyword arguments; None
    keeps the preset's) on `data` less its last `holdout` examples. Writes OUTPUT.safetensors
    (also at every better epoch, as a checkpoint), OUTPUT.json, the card, with the data, the
    training run and the held-out scores, and OUTPUT.png, a reconstruction grid."""
    output = Path(output)
    output = output.with_suffix("") if output.suffix == ".safetensors" else output
    for suffix in (".safetensors", ".json", ".png"):
        check_output(output.parent / (output.name + suffix), force)
    ae = from_preset(preset, **{k: v for k, v in (settings or {}).items() if v is not None})
    dataset = load_data(data)
    if not 0 <= holdout < len(dataset):
        raise DataError(f"--holdout {holdout} leaves no training data of {len(dataset)} examples")
    train_set, test = dataset.split(len(dataset) - holdout)
    card = {"description": description or f"{preset} autoencoder", "preset": preset, "data": {
        "source": str(data), "examples": len(dataset), "train": f"first {len(train_set)}",
        "heldout": f"last {len(test)}" if holdout else "none"}}  # fmt: skip
    if demo_data:
        card["demo_data"] = demo_data
    ae.fit(train_set.x, checkpoint=lambda m, e: zoo.save_model(m, output, {**card, "epoch": e}))
    history = ae.history_
    card["training_run"] = {
        "epochs": len(history.loss), "best_epoch": history.best_epoch,
        "stopped_early": history.stopped_early, "loss": round(history.loss[-1], 6),
        "seconds_per_epoch": round(float(np.median(history.seconds)), 3),
        "date": date.today().isoformat(),
    }  # fmt: skip
    if command:
        card["training_run"]["command"] = command
    if holdout:
        card["heldout_scores"] = heldout_scores(ae, test)
    weights = ae.save(output, card)
    shown = test if holdout else train_set
    grid = output.parent / (output.name + ".png")
    pictures = image_grid([shown.x[:10], ae.reconstruct(shown.x[:10])])
    atomic_write(grid, png_bytes(pictures), force=True)
    scores = card.get("heldout_scores", {})
    return Trained(weights, grid, len(history.loss), history.loss[-1], scores)


def heldout_scores(ae: "Autoencoder", test: Dataset) -> dict:
    """Reconstruction MSE per value, and for a VAE trained with BCE the negative ELBO (nats)."""
    x = torch.from_numpy(test.x.reshape(len(test), *ae.example_shape_))
    scores = {"mse": round(reconstruction_mse(ae.module_, x), 6)}
    if hasattr(ae.module_, "posterior") and ae.fit_config_.loss == "bce":
        scores["nelbo_nats"] = round(negative_elbo(ae.module_, x, samples=10)["nelbo"], 2)
    return scores


def examples(ae: "Autoencoder", data: str | None) -> Dataset:
    """`data` (the model's demo data when None) in the model's input layout, or a
    ShapeMismatch naming both shapes."""
    source = data or getattr(ae, "card_", {}).get("demo_data")
    if source is None:
        raise DataError(f"model '{_name(ae)}' names no demo data: give a DATA argument")
    dataset = load_data(source)
    return Dataset(fit_shape(ae, dataset.x), dataset.labels, dataset.source)


def fit_shape(ae: "Autoencoder", x: np.ndarray) -> np.ndarray:
    """Examples reshaped to the model's input layout, or a ShapeMismatch naming both shapes."""
    if math.prod(x.shape[1:]) != ae.n_features_in_:
        raise ShapeMismatch(f"examples of shape {x.shape[1:]} do not fit model '{_name(ae)}' "
                            f"(input {ae.input_layout_})")  # fmt: skip
    return x.reshape(len(x), *ae.input_layout_)


@dataclass
class Embedding:
    codes: np.ndarray  # (N, latent)
    plot: bytes  # PNG: the codes over 2-D, coloured by label
    how: str  # how the codes were brought to 2-D


def embed(ae: "Autoencoder", dataset: Dataset, project: str = "pca") -> Embedding:
    """The codes of the examples and their scatter plot (`project`: pca or first)."""
    z = ae.transform(dataset.x)
    points, how = to_2d(z, project)
    return Embedding(z, scatter_png(points, dataset.labels, f"{_name(ae)}: {how}"), how)


def codes_file(codes: np.ndarray, labels: np.ndarray | None, suffix: str) -> bytes:
    """Codes as a .npy file, or a .csv with columns z0, z1, ... and `label` when there are any."""
    if suffix not in CODE_SUFFIXES:
        raise DataError(f"write the codes to a .npy or .csv file, not {suffix or 'no suffix'}")
    if suffix == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, codes)
        return buffer.getvalue()
    header = ",".join(f"z{i}" for i in range(codes.shape[1]))
    table = codes.astype(object)
    if labels is not None:
        header, table = header + ",label", np.column_stack([table, labels])
    text = io.StringIO()
    np.savetxt(text, table, delimiter=",", header=header, comments="", fmt="%s")
    return text.getvalue().encode()


def reconstruction(ae: "Autoencoder", dataset: Dataset, count: int = 10) -> tuple[bytes, float]:
    """A PNG of the first `count` inputs above their reconstructions, and the MSE on them all."""
    x = dataset.x
    x_hat = ae.reconstruct(x)
    mse = float(np.mean((x_hat - x) ** 2))
    shape = ae.example_shape_
    grid = image_grid([x[:count].reshape(-1, *shape), x_hat[:count].reshape(-1, *shape)])
    return png_bytes(grid), mse


def samples(ae: "Autoencoder", count: int = 64, seed: int = 0) -> bytes:
    """A square-ish PNG grid of `count` draws from a VAE's prior."""
    x = ae.sample(count, seed).reshape(count, *ae.example_shape_)
    side = math.ceil(math.sqrt(count))
    return png_bytes(image_grid([x[i : i + side] for i in range(0, count, side)]))


def interpolation(
    ae: "Autoencoder", start: str, end: str, steps: int = 10, data: str | None = None
) -> bytes:
    """A PNG row: the two inputs at the ends, `steps` decodings of the straight line between
    their codes in between. An input is an index into `data` (the model's demo data by
    default) or an image file."""
    a, b = (one_example(ae, spec, data) for spec in (start, end))
    za, zb = ae.transform(a), ae.transform(b)
    t = np.linspace(0, 1, max(steps, 2), dtype=np.float32)[:, None]
    row = ae.inverse_transform((1 - t) * za + t * zb)
    return png_bytes(
        image_grid([np.concatenate([a, row, b]).reshape(len(row) + 2, *ae.example_shape_)])
    )


def one_example(ae: "Autoencoder", spec: str, data: str | None = None) -> np.ndarray:
    """One input as (1, ...): an index into the data (all digits) or the path of an image."""
    if spec.isdigit():
        dataset = examples(ae, data)
        if int(spec) >= len(dataset):
            raise DataError(f"index {spec} is past the {len(dataset)} examples")
        return dataset.x[int(spec)][None]
    return load_image_as(Path(spec), ae.example_shape_).reshape(1, *ae.input_layout_)


def _name(ae: "Autoencoder") -> str:
    # A loaded model has its registry name (or its file's stem); a freshly fitted one has none.
    return getattr(ae, "name_", "autoencoder")

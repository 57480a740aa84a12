"""Commands of the autoencoder family: fit, embed, generate, reconstruct, autoencoders.

`register(app)` adds them to the main `aecodec` command line; like cli.py they only parse,
call the library (aecodec.family) and print.
"""

import math
import shlex
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import torch
import typer
from rich.console import Console

from aecodec.errors import DataError, ShapeMismatch
from aecodec.family import Dataset, load_data
from aecodec.family import zoo as family_zoo
from aecodec.family.data import load_image_as
from aecodec.family.losses import negative_elbo, reconstruction_mse
from aecodec.family.plots import image_grid, png_bytes, scatter_png, to_2d
from aecodec.family.presets import PRESETS, from_preset
from aecodec.files import atomic_write, check_output

if TYPE_CHECKING:
    from aecodec.family.estimators import Autoencoder

out = Console(highlight=False, soft_wrap=True)

DATA_HELP = "Image folder, .npy/.npz/.csv, MNIST IDX file or folder, 'digits' or 'mnist-heldout'."
Data = Annotated[str | None, typer.Argument(help=DATA_HELP + " Default: the model's demo data.")]
Model = Annotated[str, typer.Option("-m", "--model", help="Shipped autoencoder or a .safetensors.")]
Force = Annotated[bool, typer.Option("--force", help="Overwrite existing output files.")]


def fit(
    data: Annotated[str, typer.Argument(help=DATA_HELP)],
    model: Annotated[
        str, typer.Option("-m", "--model", help=f"Preset: {', '.join(PRESETS)}.")
    ] = "dense",
    output: Annotated[
        Path, typer.Option("-o", "--output", help="NAME: writes NAME.safetensors, .json and .png.")
    ] = Path("autoencoder"),
    latent: Annotated[int | None, typer.Option(help="Code size (default: the preset's).")] = None,
    hidden: Annotated[
        str | None, typer.Option(help="Dense widths before the code, e.g. 512,256.")
    ] = None,
    widths: Annotated[
        str | None, typer.Option(help="Conv channels per stride-2 stage, e.g. 32,64.")
    ] = None,
    epochs: Annotated[int, typer.Option(help="Passes over the training data.")] = 20,
    batch_size: Annotated[int, typer.Option(help="Examples per step.")] = 128,
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 1e-3,
    optimizer: Annotated[str, typer.Option(help="adam, sgd or rmsprop.")] = "adam",
    schedule: Annotated[str, typer.Option(help="Learning rate: constant or cosine.")] = "constant",
    loss: Annotated[
        str, typer.Option(help="mse, bce or auto (bce for VAEs on 0..1 data).")
    ] = "auto",
    validation_split: Annotated[
        float, typer.Option(help="Last fraction of the training data held for validation.")
    ] = 0.1,
    patience: Annotated[
        int | None, typer.Option(help="Early stopping: epochs without a better validation loss.")
    ] = None,
    holdout: Annotated[
        int, typer.Option(help="Last N examples kept out of training and scored in the card.")
    ] = 0,
    noise: Annotated[
        str | None, typer.Option(help="Denoising: gaussian, salt-pepper or mask.")
    ] = None,
    noise_level: Annotated[
        float | None, typer.Option(help="Noise standard deviation or fraction.")
    ] = None,
    sparsity: Annotated[
        float | None, typer.Option(help="L1 penalty on the code (sparse AE).")
    ] = None,
    l1: Annotated[float, typer.Option(help="L1 weight penalty.")] = 0.0,
    l2: Annotated[float, typer.Option(help="L2 weight penalty.")] = 0.0,
    dropout: Annotated[float | None, typer.Option(help="Dropout rate (dense models).")] = None,
    beta: Annotated[float, typer.Option(help="Weight of the VAE's KL term.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed for weights, shuffles and noise.")] = 0,
    description: Annotated[str | None, typer.Option(help="One line for the model card.")] = None,
    demo_data: Annotated[
        str | None, typer.Option(help="Data that embed and reconstruct use when given none.")
    ] = None,
    force: Force = False,
) -> None:
    """Train an autoencoder of the family; writes NAME.safetensors, NAME.json and NAME.png."""
    output = output.with_suffix("") if output.suffix == ".safetensors" else output
    for suffix in (".safetensors", ".json", ".png"):
        check_output(output.parent / (output.name + suffix), force)
    overrides = {
        "latent": latent, "hidden": _ints(hidden), "widths": _ints(widths), "noise": noise,
        "noise_level": noise_level, "activity_l1": sparsity, "dropout": dropout,
    }  # fmt: skip
    overrides = {k: v for k, v in overrides.items() if v is not None}
    ae = from_preset(
        model, **overrides, epochs=epochs, batch_size=batch_size, learning_rate=lr,
        optimizer=optimizer, schedule=schedule, loss=loss, validation_split=validation_split,
        patience=patience, weight_l1=l1, weight_l2=l2, beta=beta, random_state=seed, verbose=True,
    )  # fmt: skip
    dataset = load_data(data)
    if not 0 <= holdout < len(dataset):
        raise DataError(f"--holdout {holdout} leaves no training data of {len(dataset)} examples")
    train, test = dataset.split(len(dataset) - holdout)
    card = {"description": description or f"{model} autoencoder", "preset": model, "data": {
        "source": data, "examples": len(dataset), "train": f"first {len(train)}",
        "heldout": f"last {len(test)}" if holdout else "none"}}  # fmt: skip
    if demo_data:
        card["demo_data"] = demo_data
    ae.fit(train.x, checkpoint=lambda m, e: family_zoo.save(m, output, {**card, "epoch": e}))
    history = ae.history_
    card["training_run"] = {
        "epochs": len(history.loss), "best_epoch": history.best_epoch,
        "stopped_early": history.stopped_early, "loss": round(history.loss[-1], 6),
        "seconds_per_epoch": round(float(np.median(history.seconds)), 3),
        "date": date.today().isoformat(), "command": "aecodec " + shlex.join(sys.argv[1:]),
    }  # fmt: skip
    shown = test if holdout else train
    if holdout:
        card["heldout_scores"] = _scores(ae, test)
    weights = ae.save(output, card)
    grid = image_grid([shown.x[:10], ae.reconstruct(shown.x[:10])])
    atomic_write(output.parent / (output.name + ".png"), png_bytes(grid), force=True)
    scores = "  ".join(f"{k} {v}" for k, v in card.get("heldout_scores", {}).items())
    out.print(f"{weights}  {len(history.loss)} epochs  loss {history.loss[-1]:.5f}  {scores}")


def embed(
    data: Data = None,
    model: Model = "mnist-dense",
    output: Annotated[Path, typer.Option("-o", "--output", help="Codes as .npy or .csv.")] = Path(
        "latents.npy"
    ),
    plot: Annotated[
        Path | None, typer.Option(help="Scatter plot PNG (default: beside the output).")
    ] = None,
    project: Annotated[str, typer.Option(help="Codes over 2-D: pca or first (two dims).")] = "pca",
    force: Force = False,
) -> None:
    """Encode examples to latent vectors (.npy or .csv) and draw a 2-D scatter plot."""
    plot = plot or output.with_suffix(".png")
    if output.suffix not in (".npy", ".csv"):
        raise DataError(f"{output}: write the codes to a .npy or .csv file")
    check_output(output, force)
    check_output(plot, force)
    ae, dataset = _model_and_data(model, data)
    z = ae.transform(_fit_shape(ae, dataset, model))
    if output.suffix == ".npy":
        with open(output, "wb") as f:  # np.save on a path would add .npy to other names
            np.save(f, z)
    else:
        header = ",".join(f"z{i}" for i in range(z.shape[1]))
        table = z.astype(object)
        if dataset.labels is not None:
            header, table = header + ",label", np.column_stack([table, dataset.labels])
        np.savetxt(output, table, delimiter=",", header=header, comments="", fmt="%s")
    points, how = to_2d(z, project)
    atomic_write(plot, scatter_png(points, dataset.labels, f"{model}: {how}"), force)
    out.print(f"{len(z)} codes of {z.shape[1]} numbers -> {output}; plot of {how} -> {plot}")


def generate(
    model: Model = "mnist-vae",
    output: Annotated[Path, typer.Option("-o", "--output", help="Image grid PNG.")] = Path(
        "samples.png"
    ),
    count: Annotated[int, typer.Option(help="Samples to draw from the prior.")] = 64,
    seed: Annotated[int, typer.Option(help="Seed of the samples.")] = 0,
    interpolate: Annotated[
        tuple[str, str] | None,
        typer.Option(
            help="Two inputs to interpolate between: indices into the data, or image files."
        ),
    ] = None,
    steps: Annotated[int, typer.Option(help="Interpolation steps, ends included.")] = 10,
    data: Annotated[str | None, typer.Option(help=DATA_HELP)] = None,
    force: Force = False,
) -> None:
    """Draw VAE samples as an image grid, or interpolate between two inputs in code space."""
    check_output(output, force)
    if interpolate:
        ae = _load(model)
        a, b = (_one_input(ae, model, data, s) for s in interpolate)
        za, zb = ae.transform(a), ae.transform(b)
        t = np.linspace(0, 1, max(steps, 2), dtype=np.float32)[:, None]
        row = ae.inverse_transform((1 - t) * za + t * zb)
        grid = image_grid([np.concatenate([a, row, b]).reshape(len(row) + 2, *ae.example_shape_)])
        what = f"interpolation of {steps} steps between {interpolate[0]} and {interpolate[1]}"
    else:
        ae = _load(model)
        x = ae.sample(count, seed).reshape(count, *ae.example_shape_)
        side = math.ceil(math.sqrt(count))
        grid = image_grid([x[i : i + side] for i in range(0, count, side)])
        what = f"{count} samples (seed {seed})"
    atomic_write(output, png_bytes(grid), force)
    out.print(f"{what} -> {output}")


def reconstruct(
    data: Data = None,
    model: Model = "mnist-conv",
    output: Annotated[Path, typer.Option("-o", "--output", help="Image grid PNG.")] = Path(
        "reconstructions.png"
    ),
    count: Annotated[int, typer.Option(help="Examples to show.")] = 10,
    force: Force = False,
) -> None:
    """Inputs above, reconstructions below, as a PNG; prints the MSE on all the data."""
    check_output(output, force)
    ae, dataset = _model_and_data(model, data)
    x = _fit_shape(ae, dataset, model)
    x_hat = ae.reconstruct(x)
    mse = float(np.mean((x_hat - x) ** 2))
    shape = ae.example_shape_
    grid = image_grid([x[:count].reshape(-1, *shape), x_hat[:count].reshape(-1, *shape)])
    atomic_write(output, png_bytes(grid), force)
    out.print(f"{len(x)} examples, MSE {mse:.5f} -> {output}")


def autoencoders() -> None:
    """List the shipped autoencoders and the presets that `fit` starts from."""
    for name in family_zoo.available():
        card = family_zoo.load(name).card
        scores = card.get("heldout_scores", {})
        out.print(f"{name}: {card.get('description', card['family'])}  "
                  + "  ".join(f"{k} {v}" for k, v in scores.items()))  # fmt: skip
    out.print("presets for fit: " + ", ".join(PRESETS))


def register(app: typer.Typer) -> None:
    """Add the family's commands to the `aecodec` command line."""
    for command in (fit, embed, generate, reconstruct, autoencoders):
        app.command()(command)


def _ints(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise DataError(f"expected comma-separated whole numbers, got '{text}'") from None


def _load(model: str) -> "Autoencoder":
    from aecodec.family.estimators import Autoencoder  # scikit-learn: only when needed

    return Autoencoder.load(model)


def _scores(ae: "Autoencoder", test: Dataset) -> dict:
    x = torch.from_numpy(test.x.reshape(len(test), *ae.example_shape_))
    scores = {"mse": round(reconstruction_mse(ae.module_, x), 6)}
    if hasattr(ae.module_, "posterior") and ae.fit_config_.loss == "bce":
        scores["nelbo_nats"] = round(negative_elbo(ae.module_, x, samples=10)["nelbo"], 2)
    return scores


def _model_and_data(model: str, data: str | None) -> tuple["Autoencoder", Dataset]:
    ae = _load(model)
    source = data or ae.card_.get("demo_data")
    if source is None:
        raise DataError(f"model '{model}' names no demo data: give a DATA argument")
    return ae, load_data(source)


def _fit_shape(ae: "Autoencoder", dataset: Dataset, model: str) -> np.ndarray:
    """The examples in the model's input layout, or a ShapeMismatch naming both shapes."""
    x = dataset.x
    if math.prod(x.shape[1:]) != ae.n_features_in_:
        raise ShapeMismatch(f"examples of shape {x.shape[1:]} do not fit model '{model}' "
                            f"(input {ae.input_layout_})")  # fmt: skip
    return x.reshape(len(x), *ae.input_layout_)


def _one_input(ae: "Autoencoder", model: str, data: str | None, spec: str) -> np.ndarray:
    """One example: an index into the data (the model's demo data by default) or an image."""
    if spec.isdigit():
        _, dataset = _model_and_data(model, data)
        if int(spec) >= len(dataset):
            raise DataError(f"index {spec} is past the {len(dataset)} examples")
        return _fit_shape(ae, Dataset(dataset.x[int(spec)][None], None, ""), model)
    image = load_image_as(Path(spec), ae.example_shape_)
    return image.reshape(1, *ae.input_layout_)

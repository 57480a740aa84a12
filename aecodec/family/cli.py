"""Commands of the autoencoder family: fit, embed, generate, reconstruct, autoencoders.

A typer app whose commands `register(app)` mounts at the top of the `aecodec` command line. Each
command parses, calls `aecodec.family.api`, writes what it returns and prints one line.
"""

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from aecodec.errors import DataError
from aecodec.family import api
from aecodec.family.presets import PRESETS
from aecodec.files import atomic_write, check_output
from aecodec.options import Force, Weights

app = typer.Typer()
out = Console(highlight=False, soft_wrap=True)

DATA_HELP = "Image folder, .npy/.npz/.csv, MNIST IDX file or folder, 'digits' or 'mnist-heldout'."
Data = Annotated[str | None, typer.Argument(help=DATA_HELP + " Default: the model's demo data.")]
Model = Annotated[
    str, typer.Option("-m", "--model", help="Shipped or installed autoencoder, by name.")
]


@app.command()
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
    _folder_of(output)
    settings = {
        "latent": latent, "hidden": _ints(hidden), "widths": _ints(widths), "epochs": epochs,
        "batch_size": batch_size, "learning_rate": lr, "optimizer": optimizer,
        "schedule": schedule, "loss": loss, "validation_split": validation_split,
        "patience": patience, "noise": noise, "noise_level": noise_level,
        "activity_l1": sparsity, "weight_l1": l1, "weight_l2": l2, "dropout": dropout,
        "beta": beta, "random_state": seed, "verbose": True,
    }  # fmt: skip
    trained = api.train(
        data, output, model, settings=settings, holdout=holdout, description=description,
        demo_data=demo_data, command="aecodec " + shlex.join(sys.argv[1:]), force=force,
    )  # fmt: skip
    scores = "  ".join(f"{k} {v}" for k, v in trained.scores.items())
    out.print(f"{trained.weights}  {trained.epochs} epochs  loss {trained.loss:.5f}  {scores}")


@app.command()
def embed(
    data: Data = None,
    model: Model = "mnist-dense",
    weights: Weights = None,
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
    if output.suffix not in api.CODE_SUFFIXES:
        raise DataError(f"{output}: write the codes to a .npy or .csv file")
    _folder_of(output)
    _folder_of(plot)
    check_output(output, force)
    check_output(plot, force)
    ae = api.load(model, weights=weights)
    dataset = api.examples(ae, data)
    embedding = api.embed(ae, dataset, project)
    atomic_write(output, api.codes_file(embedding.codes, dataset.labels, output.suffix), force)
    atomic_write(plot, embedding.plot, force)
    z = embedding.codes
    out.print(
        f"{len(z)} codes of {z.shape[1]} numbers -> {output}; plot of {embedding.how} -> {plot}"
    )


@app.command()
def generate(
    model: Model = "mnist-vae",
    weights: Weights = None,
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
    _folder_of(output)
    check_output(output, force)
    ae = api.load(model, weights=weights)
    if interpolate:
        png = api.interpolation(ae, *interpolate, steps=steps, data=data)
        what = f"interpolation of {steps} steps between {interpolate[0]} and {interpolate[1]}"
    else:
        png = api.samples(ae, count, seed)
        what = f"{count} samples (seed {seed})"
    atomic_write(output, png, force)
    out.print(f"{what} -> {output}")


@app.command()
def reconstruct(
    data: Data = None,
    model: Model = "mnist-conv",
    weights: Weights = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Image grid PNG.")] = Path(
        "reconstructions.png"
    ),
    count: Annotated[int, typer.Option(help="Examples to show.")] = 10,
    force: Force = False,
) -> None:
    """Inputs above, reconstructions below, as a PNG; prints the MSE on all the data."""
    _folder_of(output)
    check_output(output, force)
    ae = api.load(model, weights=weights)
    dataset = api.examples(ae, data)
    png, mse = api.reconstruction(ae, dataset, count)
    atomic_write(output, png, force)
    out.print(f"{len(dataset)} examples, MSE {mse:.5f} -> {output}")


@app.command()
def autoencoders() -> None:
    """List the shipped and installed autoencoders and the presets that `fit` starts from."""
    for name, card in api.catalogue().items():
        scores = card.get("heldout_scores", {})
        out.print(f"{name}: {card.get('description', card['family'])}  "
                  + "  ".join(f"{k} {v}" for k, v in scores.items()))  # fmt: skip
    out.print("presets for fit: " + ", ".join(PRESETS))


def register(main: typer.Typer) -> None:
    """Mount the family's commands at the top of the `aecodec` command line."""
    main.add_typer(app)  # no name: the commands join the main app's own


def _folder_of(output: Path) -> None:
    """Create the folder an output goes into (`-o runs/mnist-conv` in a fresh checkout)."""
    output.parent.mkdir(parents=True, exist_ok=True)


def _ints(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise DataError(f"expected comma-separated whole numbers, got '{text}'") from None

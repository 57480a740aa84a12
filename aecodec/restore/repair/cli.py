"""The `repair` command: `register(app)` mounts it on the `aecodec` command line.

Only typer and the standard library are imported here; torch, numpy and the model load inside
the command, so `aecodec --help` stays fast.
"""

from pathlib import Path
from typing import Annotated

import typer

from aecodec.options import Force, Weights


def register(app: typer.Typer) -> None:
    app.command("repair")(repair)


def repair(
    image: Annotated[Path, typer.Argument(help="The picture to repair (PNG, JPEG, ...).")],
    mask: Annotated[
        Path | None,
        typer.Option(
            "--mask",
            help="Image of the same size, white where pixels are to be filled. Default: the "
            "picture's transparent pixels.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Output file [default: IN-repaired beside IN]."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("-m", "--model", help="Repair model by name [default: repair-unet]."),
    ] = None,
    weights: Weights = None,
    force: Force = False,
) -> None:
    """Fill the masked (or transparent) pixels of a picture with plausible content."""
    from rich.console import Console

    from aecodec.errors import AecodecError
    from aecodec.files import check_output
    from aecodec.image import save_picture
    from aecodec.restore.repair import api

    out = Console(highlight=False, soft_wrap=True, markup=False)
    err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
    target = output or image.with_name(f"{image.stem}-repaired{image.suffix or '.png'}")
    try:
        check_output(target, force)
        repaired = api.repair(image, mask, model=model, weights=weights)
        for warning in save_picture(repaired, target, force):
            err.print(f"warning: {target}: {warning}")
    except (AecodecError, ValueError) as error:
        message = str(error)
        named = str(image) in message or str(target) in message or str(mask) in message
        err.print(f"error: {message}" if named else f"error: {image}: {message}")
        raise typer.Exit(1) from None
    source = f"{image} + {mask}" if mask else str(image)
    out.print(f"{source} -> {target}  {repaired.width}x{repaired.height} {repaired.mode}")

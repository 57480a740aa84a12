"""`aecodec denoise IN... [-o OUT|DIR] [--sigma auto|N]`: thin over aecodec.restore.denoise.api.

`register(app)` mounts the command at the top of the `aecodec` command line. Only typer and the
standard library load at import time (torch and the model load when the command runs), so
`aecodec --help` stays quick. One line per file; a file that fails gives one error line naming
it, the others go on, and the exit status is 1. Outputs are written atomically and never
overwrite an existing file without --force.
"""

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from aecodec.options import Force, Weights

app = typer.Typer(add_completion=False)

WRITABLE = frozenset({".png", ".webp", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg"})


@app.command()
def denoise(
    inputs: Annotated[list[Path], typer.Argument(help="Noisy images (PNG, JPEG, ...).")],
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Output file, or folder for many inputs (default: NAME-denoised.EXT beside each).",
        ),
    ] = None,
    sigma: Annotated[
        str,
        typer.Option(help="Noise level in 8-bit levels (0 to 75), or auto to estimate it."),
    ] = "auto",
    passes: Annotated[
        int,
        typer.Option(
            "-p",
            "--passes",
            help="Average the network over 1, 2, 4 or 8 flipped and transposed copies: "
            "more is a little cleaner and that many times slower.",
        ),
    ] = 2,  # api.DEFAULT_PASSES (the api is imported when the command runs: torch)
    force: Force = False,
    weights: Weights = None,
    model: Annotated[
        str | None,
        typer.Option("-m", "--model", help="A denoising model's name (see `aecodec models`)."),
    ] = None,
) -> None:
    """Remove Gaussian noise from photos (colour or gray), with a trained network."""
    from aecodec.errors import AecodecError
    from aecodec.files import check_output
    from aecodec.image import read_picture, save_picture
    from aecodec.restore.denoise import api

    try:
        level = None if sigma.strip().lower() == "auto" else api.check_sigma(sigma)
        api.check_passes(passes)
        targets = _targets(inputs, output)
    except AecodecError as error:
        print(f"error: {error}", file=sys.stderr)
        raise typer.Exit(1) from None
    failed = 0
    for source, target in zip(inputs, targets, strict=True):
        try:
            check_output(target, force)  # before the slow work
            start = time.perf_counter()
            picture = read_picture(source)
            for warning in picture.warnings:
                print(f"warning: {source}: {warning}", file=sys.stderr)
            image, used = api.denoise_picture(
                picture, level, model=model, weights=weights, passes=passes
            )
            seconds = time.perf_counter() - start
            for warning in save_picture(image, target, force):
                print(f"warning: {target}: {warning}", file=sys.stderr)
            how = "estimated" if level is None else "given"
            print(f"{source} -> {target}  sigma {used:.1f} ({how})  {seconds:.2f} s")
        except (AecodecError, MemoryError) as error:
            message = str(error) if isinstance(error, AecodecError) else "not enough memory"
            named = str(source) in message or str(target) in message
            print(f"error: {message}" if named else f"error: {source}: {message}", file=sys.stderr)
            failed += 1
    if failed:
        raise typer.Exit(1)


def _targets(inputs: list[Path], output: Path | None) -> list[Path]:
    """Beside each input as NAME-denoised.EXT, into a folder, or to the one file named."""
    from aecodec.errors import AecodecError

    def renamed(path: Path) -> Path:
        suffix = path.suffix.lower() if path.suffix.lower() in WRITABLE else ".png"
        return path.with_name(f"{path.stem}-denoised{suffix}")

    if output is None:
        return [renamed(p) for p in inputs]
    if output.is_dir():
        return [output / renamed(p).name for p in inputs]
    if len(inputs) > 1:
        raise AecodecError(f"{output} is not a folder; several inputs need an output folder")
    return [output]


def register(main: typer.Typer) -> None:
    """Mount `denoise` at the top of the `aecodec` command line."""
    main.add_typer(app)  # no name: the command joins the main app's own


if __name__ == "__main__":  # python -m aecodec.restore.denoise.cli IN... (the command alone)
    app()

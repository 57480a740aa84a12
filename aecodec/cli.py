"""The `aecodec` command line: thin wrappers over the Python API that print one line per file."""

import re
import signal
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.progress import Progress

from aecodec import bitstream, codec, zoo
from aecodec.errors import AecodecError
from aecodec.files import atomic_write, check_output
from aecodec.image import DEFAULT_MAX_PIXELS, read_picture, save_picture
from aecodec.metrics import psnr
from aecodec.options import Force, Weights
from aecodec.zoo import CONFIGS, DEFAULT_CONFIG, DEFAULT_MODEL

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="aecodec: a learned image codec (compress, decompress, bench, train) and autoencoders.",
)
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

Output = Annotated[
    Path | None, typer.Option("-o", "--output", help="Output file, or folder for many inputs.")
]
Strip = Annotated[
    bool, typer.Option("--strip", help="Drop the ICC colour profile, EXIF and XMP metadata.")
]
MaxPixels = Annotated[
    int | None,
    typer.Option(
        "--max-pixels",
        help=f"Refuse larger images and files [default: {DEFAULT_MAX_PIXELS:,} (Pillow's)].",
        show_default=False,
    ),
]


def _targets(inputs: list[Path], output: Path | None, suffix: str) -> list[Path]:
    """Where each input's result goes: beside it, into a folder, or to the one file named."""
    if output is None:
        return [p.with_suffix(suffix) for p in inputs]
    if output.is_dir() or len(inputs) > 1:
        if not output.is_dir():
            raise AecodecError(f"{output} is not a folder; several inputs need an output folder")
        return [output / p.with_suffix(suffix).name for p in inputs]
    return [output]


def _each(inputs: list[Path], targets: list[Path], work) -> None:
    """Run work(input, target) for each file, one line each; exit 1 if any failed."""
    failed = 0
    with Progress(console=err, transient=True, disable=len(inputs) < 2) as progress:
        task = progress.add_task("coding", total=len(inputs))
        for source, target in zip(inputs, targets, strict=True):
            try:
                out.print(work(source, target))
            except (AecodecError, ValueError) as error:
                message = str(error)
                named = str(source) in message or str(target) in message
                err.print(f"error: {message}" if named else f"error: {source}: {message}")
                failed += 1
            progress.advance(task)
    if failed:
        raise typer.Exit(1)


@app.command()
def compress(
    images: Annotated[list[Path], typer.Argument(help="Images to compress (PNG, JPEG, ...).")],
    quality: Annotated[
        float, typer.Option("-q", "--quality", help="0 to 100, higher is better.")
    ] = 75,
    model: Annotated[
        str, typer.Option("-m", "--model", help="Model name (see `aecodec models`).")
    ] = DEFAULT_MODEL,
    weights: Weights = None,
    output: Output = None,
    force: Force = False,
    max_pixels: MaxPixels = None,
    strip: Strip = False,
    check: Annotated[
        bool, typer.Option("--check", help="Decode the file and report PSNR.")
    ] = False,
    bpp: Annotated[
        float | None, typer.Option(help="Target bits per pixel instead of a quality.")
    ] = None,
    size: Annotated[
        str | None, typer.Option(help="Target file size instead of a quality, e.g. 40KB.")
    ] = None,
) -> None:
    """Compress images to .aec files."""
    size_bytes = parse_size(size) if size else None

    def work(source: Path, target: Path) -> str:
        check_output(target, force)
        picture = read_picture(source, max_pixels)
        for warning in picture.warnings:
            err.print(f"warning: {source}: {warning}")
        result = codec.compress_picture(
            picture, quality, model, weights=weights, bpp=bpp, size=size_bytes, strip=strip,
            max_pixels=max_pixels,
        )  # fmt: skip
        for warning in result.warnings[len(picture.warnings) :]:
            err.print(f"warning: {source}: {warning}")
        atomic_write(target, result.data, force)
        n_bytes, (h, w) = len(result.data), picture.rgb.shape[:2]
        line = f"{source} -> {target}  {n_bytes:,} bytes  {n_bytes * 8 / (h * w):.4f} bpp"
        if bpp is not None or size_bytes is not None:
            line += f"  quality {result.header.quality:g}"
        if check:
            decoded = codec.decompress(result.data, weights=weights).convert("RGB")
            line += f"  PSNR {psnr(np.asarray(decoded), picture.rgb):.2f} dB"
        return line

    _each(images, _targets(images, output, ".aec"), work)


@app.command()
def decompress(
    files: Annotated[list[Path], typer.Argument(help=".aec files to decode.")],
    weights: Weights = None,
    output: Output = None,
    format: Annotated[
        str, typer.Option("--format", help="Extension when writing beside or into a folder.")
    ] = "png",
    force: Force = False,
    max_pixels: MaxPixels = None,
    strip: Strip = False,
    fast: Annotated[
        bool,
        typer.Option(
            "--fast",
            help="Float32 synthesis, about 1.3x faster; a pixel may differ by one level "
            "between machines (the default output is identical everywhere).",
        ),
    ] = False,
) -> None:
    """Decode .aec files to images (format from the output's extension)."""

    def work(source: Path, target: Path) -> str:
        check_output(target, force)
        image = codec.decompress(
            _read(source), weights=weights, exact=not fast, max_pixels=max_pixels, strip=strip
        )
        for warning in save_picture(image, target, force):
            err.print(f"warning: {target}: {warning}")
        return f"{source} -> {target}  {image.width}x{image.height} {image.mode}"

    _each(files, _targets(files, output, "." + format.lstrip(".")), work)


@app.command()
def info(file: Annotated[Path, typer.Argument(help="An .aec file.")]) -> None:
    """Print the header and payload sizes of an .aec file."""
    data = _read(file)
    header, payloads = bitstream.unpack(data)
    for key, value in bitstream.describe(header, payloads, len(data)).items():
        out.print(f"{key:>16}: {value}")
    out.print(f"{'checksums':>16}: header and file CRC-32 verified")


@app.command()
def bench(
    folder: Annotated[Path, typer.Argument(help="Folder of test images (e.g. Kodak).")],
    codecs: Annotated[
        str, typer.Option(help="Comma-separated: aec, aec:MODEL, jpeg, webp, avif, jxl, jp2.")
    ] = "aec,jpeg,webp,avif,jxl,jp2",
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for CSV, JSON, plots.")] = Path(
        "bench-out"
    ),
    anchor: Annotated[str, typer.Option(help="Codec the BD-rates refer to.")] = "jpeg",
    html: Annotated[bool, typer.Option("--html", help="Also a page with crops.")] = False,
    reference: Annotated[
        Path | None, typer.Option(help="Folder of CompressAI JSON curves to overlay.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N images.")] = None,
    memory: Annotated[
        float | None,
        typer.Option(help="Also peak memory of aecodec on the first image upscaled to N MP."),
    ] = None,
) -> None:
    """Compare codecs side by side on your images: rate-distortion, BD-rate, speed, memory."""
    from aecodec.eval import benchmark, find_images
    from aecodec.eval.memory import measure_memory, memory_markdown

    names = [c.strip() for c in codecs.split(",") if c.strip()]
    command = "aecodec bench " + " ".join(sys.argv[2:])
    report = benchmark(folder, names, out_dir, anchor, html, reference, limit, command=command)
    if memory:
        photo = find_images(folder, 1)[0]
        with report.open("a") as f:
            f.write("\n" + memory_markdown(measure_memory(photo, memory)))
    out.print(report.read_text())
    out.print(f"written to {out_dir}")


@app.command()
def models() -> None:
    """List the shipped and installed codec models (from their cards: no weights are read)."""
    for name, card in zoo.MODELS.cards().items():
        default = " (default)" if name == DEFAULT_MODEL else ""
        out.print(f"{name}{default}: {card.get('description', card['family'])}")
        for row in card.get("kodak", []):
            out.print(
                f"    quality {row['quality']:>5}: {row['bpp']:.3f} bpp, {row['psnr']:.2f} dB"
            )


@app.command()
def train(
    folders: Annotated[list[Path], typer.Argument(help="Folders of training images (recursive).")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Checkpoints, log and final model.")
    ] = Path("runs/codec"),
    val: Annotated[
        Path | None, typer.Option("--val", help="Held-out images for validation.")
    ] = None,
    steps: Annotated[int, typer.Option(help="Training steps.")] = 100_000,
    minutes: Annotated[
        float | None, typer.Option(help="Wall-clock budget instead of steps.")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Images per step per process.")] = 8,
    crop: Annotated[int, typer.Option(help="Crop size in pixels.")] = 256,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-4,
    config: Annotated[
        str, typer.Option(help=f"Architecture: {', '.join(CONFIGS)}.")
    ] = DEFAULT_CONFIG,
    channels: Annotated[
        tuple[int, int] | None,
        typer.Option(help="N and M (transform and latent channels), instead of the config's."),
    ] = None,
    lambdas: Annotated[
        str | None,
        typer.Option(help="Comma-separated rate-distortion trade-offs, instead of the config's."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for weights, crops and levels.")] = 0,
    checkpoint_minutes: Annotated[float, typer.Option(help="Minutes between checkpoints.")] = 10.0,
    val_every: Annotated[int, typer.Option(help="Steps between validations.")] = 1000,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from OUT/checkpoint.pt.")
    ] = False,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    init: Annotated[
        str | None, typer.Option(help="Start from this model's weights (name or path).")
    ] = None,
    entropy_only: Annotated[
        bool,
        typer.Option(
            "--entropy-only",
            help="Keep --init's transforms and retrain only the entropy model (and a context "
            "model if the config has one): rate loss on cached latents, fast on a CPU.",
        ),
    ] = False,
) -> None:
    """Train a variable-rate codec on your images (also under torchrun for several processes)."""
    from aecodec.train.codec import TrainConfig, train_codec
    from aecodec.train.entropy import EntropyTrainConfig, train_entropy

    architecture = zoo.architecture(config, channels, lambdas)
    if entropy_only:
        if not init:
            raise AecodecError("--entropy-only needs --init: the model whose transforms to keep")
        weights = train_entropy(EntropyTrainConfig(
            train_dirs=folders, out_dir=out_dir, init=init, model=architecture, val_dir=val,
            crop=crop, batch_size=batch_size, lr=lr, steps=steps, minutes=minutes, seed=seed,
            crops=min(EntropyTrainConfig.crops, steps * batch_size),  # no more than it will see
            checkpoint_minutes=checkpoint_minutes,
        ))  # fmt: skip
    else:
        weights = train_codec(TrainConfig(
            train_dirs=folders, out_dir=out_dir, val_dir=val, model=architecture, crop=crop,
            batch_size=batch_size, lr=lr, steps=steps, minutes=minutes, seed=seed,
            checkpoint_minutes=checkpoint_minutes, val_every=val_every, device=device,
            resume=resume, init=init,
        ))  # fmt: skip
    if weights:
        out.print(f"model written to {weights}")


# The wings' commands, mounted here: the autoencoder family's at the top level, text's under
# `aecodec text`.
from aecodec.family.cli import register  # noqa: E402
from aecodec.text.cli import app as text_app  # noqa: E402

register(app)
app.add_typer(text_app, name="text")


_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2}


def parse_size(text: str) -> int:
    """'40KB' -> 40000 bytes; B, KB, KiB, MB and MiB, case-insensitive; bytes if no unit."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([a-zA-Z]*)\s*", text)
    unit = match and (match[2].lower() or "b")
    if not match or unit not in _UNITS:
        raise AecodecError(f"cannot read the size '{text}'; write for example 40KB or 1.5MB")
    return int(float(match[1]) * _UNITS[unit])


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise AecodecError(f"cannot read {path}: {error.strerror}") from None


def _exit_on_signal(signum: int, frame: object) -> None:
    # An exception unwinds the stack, so temporary files are removed as they are on Ctrl-C.
    raise SystemExit(128 + signum)


def main() -> None:
    """Entry point: every user error becomes one line on stderr and exit status 1."""
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _exit_on_signal)
    try:
        sys.exit(app(standalone_mode=False) or 0)
    except AecodecError as error:
        err.print(f"error: {error}")
        sys.exit(1)
    except typer.Abort:
        err.print("interrupted")
        sys.exit(130)
    except typer.TyperException as error:  # bad options: typer's usage message
        error.show()
        sys.exit(getattr(error, "exit_code", 2))
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)

"""The `aecodec` command line: thin wrappers over the Python API that print one line per file.

Start-up matters (`aecodec --help` and `aecodec info` in a fraction of a second), so this module
imports no torch: each command imports the API it calls when it runs, and the wings' commands
(WINGS) are listed from a table and imported only when one of them is called. Exit status: 0,
1 for bad input (one error line per file, naming it), 2 for a command called wrongly.
"""

import json
import math
import os
import re
import signal
import sys
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup

import aecodec
from aecodec import bitstream
from aecodec.allocator import reuse_freed_memory
from aecodec.errors import AecodecError, TargetUnreachable, UsageError
from aecodec.options import (
    STDIO,
    Done,
    Force,
    Json,
    Output,
    Quiet,
    Report,
    Verbose,
    Weights,
    arrow,
    check_target,
    name,
    read_input,
    run,
    targets,
    write_output,
)
from aecodec.zoo import DEFAULT_CONFIG, DEFAULT_MODEL

try:  # typer from 0.2x carries its own copy of click, whose classes are not click's
    from typer._click import Context
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
    from typer._click.exceptions import UsageError as ClickUsageError
except ImportError:  # an earlier typer, on click itself
    from click import ClickException, Context
    from click.exceptions import NoArgsIsHelpError
    from click.exceptions import UsageError as ClickUsageError

CODEC = "Image codec"  # the heading of the codec's commands in `aecodec --help`


@dataclass(frozen=True)
class Wing:
    """A wing's commands as the top command line mounts them: `module` has `register(app)`,
    which adds `commands` (name -> the first line of its help, shown by `aecodec --help`
    without importing the wing; tests/test_cli_wings.py checks it against the real help)."""

    module: str
    panel: str  # the heading they are listed under in `aecodec --help`
    commands: dict[str, str]


WINGS = [
    Wing(
        "aecodec.family.cli",
        "Autoencoders",
        {
            "fit": "Train an autoencoder of the family; writes NAME.safetensors, NAME.json and "
            "NAME.png.",
            "embed": "Encode examples to latent vectors (.npy or .csv) and draw a 2-D scatter "
            "plot.",
            "generate": "Draw VAE samples as an image grid, or interpolate between two inputs "
            "in code space.",
            "reconstruct": "Inputs above, reconstructions below, as a PNG; prints the MSE on "
            "all the data.",
            "autoencoders": "List the shipped and installed autoencoders and the presets that "
            "`fit` starts from.",
        },
    ),
    Wing(
        "aecodec.text.cli",
        "Text",
        {"text": "Learned lossless text compression (.aet files): compress, decompress, info."},
    ),
    Wing(
        "aecodec.restore.denoise.cli",
        "Restore",
        {"denoise": "Remove Gaussian noise from photos (colour or gray), with a trained network."},
    ),
    Wing(
        "aecodec.restore.repair.cli",
        "Restore",
        {"repair": "Fill the masked (or transparent) pixels of a picture with plausible content."},
    ),
    Wing(
        "aecodec.web.cli",
        "Web page",
        {
            "serve": "Serve a local web page to compare codecs side by side, compress and restore "
            "pictures."
        },
    ),
]


class Commands(TyperGroup):
    """The top command group: the codec's commands, and the wings' commands, listed from WINGS
    until one of them is called, then imported (with torch, if the wing needs it)."""

    def list_commands(self, ctx: Context) -> list[str]:
        wings = [c for wing in WINGS for c in wing.commands if c not in self.commands]
        return [*super().list_commands(ctx), *wings]

    def get_command(self, ctx: Context, cmd_name: str) -> TyperCommand | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        for wing in WINGS:
            if cmd_name in wing.commands:  # a stand-in that only describes the command
                command = TyperCommand(cmd_name, help=wing.commands[cmd_name])
                command.rich_help_panel = wing.panel
                return command
        return None

    def invoke(self, ctx: Context):
        try:
            return super().invoke(ctx)
        except UsageError as error:  # raised by a command: exit 2, as for click's own checks
            raise ClickUsageError(str(error), ctx) from None

    def resolve_command(self, ctx: Context, args: list[str]):
        if args and args[0] not in self.commands:
            for wing in WINGS:
                if args[0] in wing.commands:
                    self.commands.update(wing_commands(wing))
        return super().resolve_command(ctx, args)


def wing_commands(wing: Wing) -> dict[str, TyperCommand]:
    """The click commands that the wing's register(app) adds, under their names."""
    mounted = typer.Typer()
    try:
        module = import_module(wing.module)
    except ImportError as error:  # an optional dependency of that wing (the web page's, say)
        raise AecodecError(
            f"the {wing.panel.lower()} commands cannot load: {error}; install what it names"
        ) from None
    module.register(mounted)
    group = typer.main.get_group(mounted)
    for command in group.commands.values():
        command.rich_help_panel = getattr(command, "rich_help_panel", None) or wing.panel
    return dict(group.commands)


app = typer.Typer(
    cls=Commands,
    add_completion=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="aecodec: a learned image codec (compress, decompress, bench, train) and autoencoders.",
    epilog="Exit status: 0 when every file went well; 1 when one failed (bad input: one error "
    "line each, naming the file); 2 when the command was called wrongly. See docs/cli.md.",
)

MaxPixels = Annotated[
    int | None,
    typer.Option(
        "--max-pixels",
        min=1,
        help="Refuse larger images and files \\[default: 89,478,485 (Pillow's)].",
        show_default=False,
    ),
]
Strip = Annotated[
    bool, typer.Option("--strip", help="Drop the ICC colour profile, EXIF and XMP metadata.")
]


def _version(value: bool) -> None:
    if value:
        formats = f".aec format versions 1 to {bitstream.FORMAT_VERSION}"
        print(f"aecodec {aecodec.__version__} (reads {formats})")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """The options before a command."""


@app.command(rich_help_panel=CODEC)
def compress(
    images: Annotated[
        list[Path], typer.Argument(help="Images to compress (PNG, JPEG, ...), or - for stdin.")
    ],
    quality: Annotated[
        float | None,
        typer.Option(
            "-q",
            "--quality",
            help="0 to 100, higher is better \\[default: 75].",
            show_default=False,
        ),
    ] = None,
    effort: Annotated[
        int,
        typer.Option(
            "-e",
            "--effort",
            min=0,
            max=9,
            help="0 to 9: higher encodes slower for a smaller file at the same quality; any "
            "effort's file decodes as fast \\[default: 0].",
            show_default=False,
        ),
    ] = 0,
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
    closest: Annotated[
        bool,
        typer.Option(
            "--closest", help="Write the closest file when --size or --bpp cannot be met."
        ),
    ] = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
    json_output: Json = False,
) -> None:
    """Compress images to .aec files."""
    report = Report.of(quiet, verbose, json_output, output)
    size_bytes = _target(quality, bpp, size, closest)
    quality = 75.0 if quality is None else quality

    def work(source: Path, target: Path, warn) -> Done:
        from aecodec import codec
        from aecodec.image import read_picture

        check_target(target, force)
        data = read_input(source) if source == STDIO else None
        picture = read_picture(source if data is None else data, max_pixels, name(source))
        try:
            result = codec.compress_picture(
                picture, quality, model, weights=weights, bpp=bpp, size=size_bytes, strip=strip,
                max_pixels=max_pixels, closest=closest, effort=effort,
            )  # fmt: skip
        except TargetUnreachable as error:
            raise TargetUnreachable(f"{error}; --closest writes that file anyway") from None
        for warning in result.warnings:
            warn(warning)
        write_output(target, result.data, force)
        header, n_bytes, (h, w) = result.header, len(result.data), picture.rgb.shape[:2]
        facts = {"bytes": n_bytes, "bpp": round(n_bytes * 8 / (h * w), 4), "width": w,
                 "height": h, "stored": header.stored}  # fmt: skip
        line = f"{arrow(source, target)}  {n_bytes:,} bytes  {facts['bpp']:.4f} bpp"
        if header.stored:
            line += "  pixels stored exactly"
        else:
            facts |= {"model": header.model, "quality": header.quality, "effort": effort}
            if bpp is not None or size_bytes is not None or verbose:
                line += f"  quality {header.quality:g}"
            if verbose:
                line += f"  model {header.model}"
        if check:
            decoded = codec.decompress(result.data, weights=weights, max_pixels=max_pixels)
            facts["psnr"] = _psnr(decoded, picture.rgb)
            line += "  exact" if facts["psnr"] is None else f"  PSNR {facts['psnr']:.2f} dB"
        size_in = len(data) if data is not None else source.stat().st_size
        return Done(line, facts, size_in, n_bytes)

    run(images, targets(images, output, lambda p: p.with_suffix(".aec")), work, report)


def _target(
    quality: float | None, bpp: float | None, size: str | None, closest: bool
) -> int | None:
    """Check the rate options against each other; the --size in bytes, if given."""
    given = [o for o, v in (("-q/--quality", quality), ("--bpp", bpp), ("--size", size))
             if v is not None]  # fmt: skip
    if len(given) > 1:
        raise UsageError(f"{given[0]} and {given[1]} cannot be used together: give one of them")
    if quality is not None and not (math.isfinite(quality) and 0 <= quality <= 100):
        raise UsageError(f"-q/--quality must be between 0 and 100, not {quality:g}")
    if bpp is not None and not (math.isfinite(bpp) and bpp > 0):
        raise UsageError(f"--bpp must be a positive number of bits per pixel, not {bpp:g}")
    if closest and bpp is None and size is None:
        raise UsageError("--closest applies to a target: give --size or --bpp with it")
    return parse_size(size) if size is not None else None


def _psnr(decoded, rgb) -> float | None:
    """PSNR of the decoded image against the input's RGB, None when they are identical."""
    import numpy as np

    from aecodec.metrics import psnr

    decoded = np.asarray(decoded.convert("RGB"))
    return None if np.array_equal(decoded, rgb) else round(psnr(decoded, rgb), 4)


@app.command(rich_help_panel=CODEC)
def decompress(
    files: Annotated[list[Path], typer.Argument(help=".aec files to decode, or - for stdin.")],
    weights: Weights = None,
    output: Output = None,
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="Image format (png, webp, jpg, avif, jxl, tiff, bmp) when writing beside the "
            "input, into a folder or to standard output \\[default: png].",
            show_default=False,
        ),
    ] = None,
    quality: Annotated[
        int | None,
        typer.Option(
            "-q",
            "--quality",
            min=0,
            max=100,
            help="Write .jpg, .webp, .avif or .jxl lossy at this quality (0 to 100); without "
            "it, WebP and JPEG XL are lossless, JPEG 95 and AVIF 90.",
            show_default=False,
        ),
    ] = None,
    force: Force = False,
    max_pixels: MaxPixels = None,
    strip: Strip = False,
    fast: Annotated[
        bool,
        typer.Option(
            "--fast",
            help="For files of format 1 or 2: float32 synthesis, about 2x faster; a pixel may "
            "differ by one level between machines. Files of format 4 and 5 always decode exactly "
            "(and faster).",
        ),
    ] = False,
    quiet: Quiet = False,
    verbose: Verbose = False,
    json_output: Json = False,
) -> None:
    """Decode .aec files to images (format from the output's extension)."""
    from aecodec.image import output_format

    report = Report.of(quiet, verbose, json_output, output)
    suffix = "." + (format or "png").lower().lstrip(".")
    outputs = targets(files, output, lambda p: p.with_suffix(suffix))
    for target in outputs:
        written = suffix if target == STDIO else target.suffix
        if format and written.lower() != suffix:
            raise UsageError(f"--format {format} and -o {target} name different formats")
        try:
            output_format(written, quality, name(target))
        except AecodecError as error:
            raise UsageError(str(error)) from None

    def work(source: Path, target: Path, warn) -> Done:
        from aecodec import bitstream, decoder
        from aecodec.image import encode_picture, save_picture

        check_target(target, force)
        data = read_input(source)
        # One file decodes sooner without torch: its import alone outlasts the numpy decoder's
        # synthesis. Over several files torch's faster synthesis pays for its start-up.
        if len(files) == 1 and decoder.decodes(bitstream.unpack(data)[0]):
            image = decoder.decompress(data, weights=weights, max_pixels=max_pixels, strip=strip)
        else:
            from aecodec import codec

            image = codec.decompress(
                data, weights=weights, exact=not fast, max_pixels=max_pixels, strip=strip
            )
        if target == STDIO:
            encoded, warnings = encode_picture(image, suffix, quality, name(target))
            write_output(target, encoded, force)
            n_bytes = len(encoded)
        else:
            warnings = save_picture(image, target, force, quality)
            n_bytes = target.stat().st_size
        for warning in warnings:
            warn(warning, about=target)
        facts = {"width": image.width, "height": image.height, "mode": image.mode,
                 "bytes": n_bytes}  # fmt: skip
        line = f"{arrow(source, target)}  {image.width}x{image.height} {image.mode}"
        return Done(line + (f"  {n_bytes:,} bytes" if verbose else ""), facts, len(data), n_bytes)

    run(files, outputs, work, report)


@app.command(rich_help_panel=CODEC)
def info(
    files: Annotated[list[Path], typer.Argument(help=".aec files, or - for stdin.")],
    json_output: Json = False,
    quiet: Quiet = False,
) -> None:
    """Print the header and payload sizes of .aec files (no model is loaded)."""
    if STDIO in files and len(files) > 1:
        raise UsageError("- (standard input) must be the only input")

    def work(source: Path, _target: None, warn) -> Done:
        data = read_input(source)
        header, payloads = bitstream.unpack(data)
        facts = bitstream.describe(header, payloads, len(data))
        lines = [f"{name(source)}:"] if len(files) > 1 else []
        shown = {**facts, "model": facts["model"] or "none (the pixels are stored exactly)"}
        lines += [f"{key:>16}: {value}" for key, value in shown.items() if key != "stored"]
        lines.append(f"{'checksums':>16}: {_checksums(header)} verified")
        return Done("\n".join(lines), facts, len(data))

    run(files, [None] * len(files), work, Report(quiet, False, json_output), summary=False)


def _checksums(header: bitstream.Header) -> str:
    return "file CRC-32" if header.stored else "header and file CRC-32"


@app.command(rich_help_panel=CODEC)
def models(json_output: Json = False) -> None:
    """List every installed model, of every kind, from its card (no weights are read)."""
    listing = {kind: registry.cards() for kind, registry in _registries().items()}
    if json_output:
        print(json.dumps(listing))
        return
    for kind, cards in listing.items():
        print(f"{kind}:" + ("" if cards else " none installed"))
        for model_name, card in cards.items():
            default = " (default)" if model_name == DEFAULT_MODEL else ""
            print(f"  {model_name}{default}: {card.get('description', card.get('family'))}")
            for row in card.get("kodak", []):
                figures = f"{row['bpp']:.3f} bpp, {row['psnr']:.2f} dB"
                print(f"      quality {row['quality']:>5}: {figures}")


# Where each kind's registry lives: (module, name). Modules that import torch make `models`
# slow; each registry should live beside light code (see docs/cli.md).
REGISTRIES = {
    "codec models": ("aecodec.zoo", "MODELS"),
    "autoencoders": ("aecodec.family.cards", "MODELS"),
    "text models": ("aecodec.text.cards", "MODELS"),
    "denoisers": ("aecodec.restore.zoo", "DENOISERS"),
    "repairers": ("aecodec.restore.zoo", "REPAIRERS"),
}


def _registries() -> dict:
    return {kind: getattr(import_module(m), attr) for kind, (m, attr) in REGISTRIES.items()}


@app.command(rich_help_panel=CODEC)
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
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N images.")] = None,
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
    print(report.read_text())
    print(f"written to {out_dir}")


@app.command(rich_help_panel=CODEC)
def train(
    folders: Annotated[list[Path], typer.Argument(help="Folders of training images (recursive).")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Checkpoints, log and final model.")
    ] = Path("runs/codec"),
    val: Annotated[
        Path | None, typer.Option("--val", help="Held-out images for validation.")
    ] = None,
    steps: Annotated[int, typer.Option(min=1, help="Training steps.")] = 100_000,
    minutes: Annotated[
        float | None, typer.Option(help="Wall-clock budget instead of steps.")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per step per process.")] = 8,
    crop: Annotated[int, typer.Option(min=64, help="Crop size in pixels.")] = 256,
    lr: Annotated[float, typer.Option(help="Adam learning rate.")] = 1e-4,
    config: Annotated[
        str,
        typer.Option(
            help="Architecture, e.g. hyperprior-sc-wide (the default model's) or "
            "hyperprior-vr-small (CPU-sized); a wrong name lists them all."
        ),
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
    val_every: Annotated[int, typer.Option(min=1, help="Steps between validations.")] = 1000,
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
    from aecodec import zoo
    from aecodec.train.codec import TrainConfig, train_codec
    from aecodec.train.entropy import EntropyTrainConfig, train_entropy

    if entropy_only and not init:
        raise UsageError("--entropy-only needs --init: the model whose transforms to keep")
    architecture = zoo.architecture(config, channels, lambdas)
    if entropy_only:
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
        print(f"model written to {weights}")


_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2}


def parse_size(text: str) -> int:
    """'40KB' -> 40000 bytes; B, KB, KiB, MB and MiB, case-insensitive; bytes if no unit.
    UsageError for anything else, or a size under one byte."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*", text)
    unit = match and (match[2].lower() or "b")
    if not match or unit not in _UNITS:
        raise UsageError(f"--size: cannot read '{text}'; write for example 40KB or 1.5MB")
    size = int(float(match[1]) * _UNITS[unit])
    if size < 1:
        raise UsageError(f"--size must be at least one byte, not '{text}'")
    return size


def _exit_on_signal(signum: int, frame: object) -> None:
    # An exception unwinds the stack, so temporary files are removed as they are on Ctrl-C.
    raise SystemExit(128 + signum)


def main() -> None:
    """Entry point: a user error becomes one line on stderr and exit status 1, a command
    called wrongly exit status 2."""
    for signame in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, signame):
            signal.signal(getattr(signal, signame), _exit_on_signal)
    reuse_freed_memory()
    try:
        sys.exit(app(prog_name="aecodec", standalone_mode=False) or 0)
    except UsageError as error:  # raised before any command ran
        _fail(str(error), 2)
    except AecodecError as error:
        _fail(str(error), 1)
    except NoArgsIsHelpError as error:  # `aecodec` alone: the help, and status 2
        text = error.ctx.get_help()  # typer's rich help prints itself and returns ""
        if text:
            print(text)
        sys.exit(2)
    except ClickUsageError as error:  # typer's own checks: unknown option, bad value, ...
        _fail(_lower(error.format_message()), 2, error.ctx)
    except ClickException as error:
        _fail(_lower(error.format_message()), error.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        _fail("interrupted", 130)
    except BrokenPipeError:  # `aecodec ... -o - | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


def _fail(message: str, status: int, ctx: Context | None = None) -> None:
    hint = ""
    if ctx is not None:  # the command's own context, or the group's with the command it ran
        path = " ".join(filter(None, [ctx.command_path, ctx.invoked_subcommand]))
        hint = f" (see '{path} --help')"
    print(f"error: {message}{hint}", file=sys.stderr)
    sys.exit(status)


def _lower(message: str) -> str:
    """Click's 'No such option: --x' as the house writes errors: 'no such option: --x'."""
    return message[:1].lower() + message[1:] if message[1:2].islower() else message

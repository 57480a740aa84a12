"""`aecodec text ...`: compress, decompress and inspect .aet files; thin over aecodec.text.api.

Mounted by the top command line with `register(app)` as `aecodec text`. `-` reads standard
input or writes standard output; files stream through in blocks (memory bounded whatever their
size), are never overwritten without --force and are put in place atomically. The per-file
loop, --json, --quiet and --verbose are the codec's own (aecodec.options). Bad input ends with
one error line per file and exit status 1.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from aecodec.errors import AecodecError, UsageError
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
    input_stream,
    name,
    output_stream,
    read_input,
    run,
    targets,
)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Learned lossless text compression (.aet files): compress, decompress, info.",
)

Inputs = Annotated[list[Path], typer.Argument(help="Input files, or - for standard input.")]
Model = Annotated[str, typer.Option("-m", "--model", help="A text model's registry name.")]


def register(main: typer.Typer) -> None:
    """Mount these commands as `aecodec text ...`."""
    main.add_typer(app, name="text")


def _codec(model: str, weights: Path | None):
    """The model the user chose: by path, by name, or (None) the default / the file's own."""
    from aecodec.text import api

    return api.load_model(weights=weights) if weights else model or None


@app.command()
def compress(
    inputs: Inputs,
    output: Output = None,
    force: Force = False,
    model: Model = "",
    weights: Weights = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    json_output: Json = False,
) -> None:
    """Compress each file to FILE.aet (bits per byte and speed on one line each)."""
    report = Report.of(quiet, verbose, json_output, output)

    def work(source: Path, target: Path, warn) -> Done:
        from aecodec.text import api

        check_target(target, force)
        codec = _codec(model, weights)
        start = time.perf_counter()
        with _streaming(source, target), input_stream(source) as data:
            with output_stream(target, force) as coded:
                length = api.compress_stream(data, coded, codec)
        seconds = time.perf_counter() - start
        bpb = 8 * coded.count / length if length else 0.0
        rate = length / seconds / 1e3 if seconds else 0.0
        sizes = f"{length:,} -> {coded.count:,} bytes"
        line = f"{arrow(source, target)}: {sizes}, {bpb:.3f} bpb, {rate:.1f} KB/s"
        facts = {"bytes_in": length, "bytes": coded.count, "bits_per_byte": round(bpb, 4)}
        return Done(line, facts, length, coded.count)

    outputs = targets(inputs, output, lambda p: p.with_name(p.name + ".aet"))
    run(inputs, outputs, work, report)


@app.command()
def decompress(
    inputs: Inputs,
    output: Output = None,
    force: Force = False,
    model: Model = "",
    weights: Weights = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
    json_output: Json = False,
) -> None:
    """Restore the exact bytes of each FILE.aet (to FILE without .aet, or FILE.out)."""
    report = Report.of(quiet, verbose, json_output, output)

    def work(source: Path, target: Path, warn) -> Done:
        from aecodec.text import api

        check_target(target, force)
        codec = _codec(model, weights)
        with _streaming(source, target), input_stream(source) as coded:
            with output_stream(target, force) as data:
                length = api.decompress_stream(coded, data, codec)
            size = coded.tell() if coded.seekable() else 0
        line = f"{arrow(source, target)}: {length:,} bytes"
        return Done(line, {"bytes": length}, size, length)

    outputs = targets(inputs, output, _restored_name)
    run(inputs, outputs, work, report)


@app.command()
def info(inputs: Inputs, json_output: Json = False, quiet: Quiet = False) -> None:
    """Print an .aet file's header: model, weights hash, length, checksum and blocks."""

    def work(source: Path, _target: None, warn) -> Done:
        from aecodec.text import api

        data = read_input(source)
        facts = api.info(data)
        coded = sum(b["kind"] == "coded" for b in facts["blocks"])
        line = (
            f"{name(source)}: model {facts['model']} ({facts['weights_hash']}), "
            f"{facts['length']:,} bytes, crc32 {facts['crc32']}, {len(facts['blocks'])} blocks "
            f"({coded} coded), {facts['bits_per_byte']:.3f} bpb"
        )
        return Done(line, facts, len(data))

    if STDIO in inputs and len(inputs) > 1:
        raise UsageError("- (standard input) must be the only input")
    run(inputs, [None] * len(inputs), work, Report(quiet, False, json_output), summary=False)


@contextmanager
def _streaming(source: Path, target: Path) -> Iterator[None]:
    """A read or write that fails mid-stream (a full disk, an I/O error) as one error line."""
    try:
        yield
    except OSError as error:
        reason = error.strerror or error
        raise AecodecError(f"cannot code {source} into {target}: {reason}") from None


def _restored_name(path: Path) -> Path:
    return path.with_suffix("") if path.suffix == ".aet" else path.with_name(path.name + ".out")

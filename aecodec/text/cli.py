"""`aecodec text ...`: compress, decompress and inspect .aet files; thin over aecodec.text.api.

Mounted by the top command line as `app.add_typer(text_app, name="text")`. `-` reads standard
input or writes standard output; files are never overwritten without --force and are written
atomically. Bad input ends with one error line and exit status 1.
"""

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from aecodec.errors import AecodecError
from aecodec.files import atomic_write, check_output
from aecodec.options import Force, Weights
from aecodec.text import api

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Learned lossless text compression (.aet files).",
)
STDIO = Path("-")

Inputs = Annotated[list[Path], typer.Argument(help="Input files, or - for standard input.")]
Output = Annotated[
    Path | None,
    typer.Option("-o", "--output", help="Output file, folder for many inputs, or - for stdout."),
]
Model = Annotated[str, typer.Option("-m", "--model", help="A text model's registry name.")]


def _codec(model: str, weights: Path | None) -> api.TextCodec | str | None:
    """The model the user chose: by path, by name, or (None) the default / the file's own."""
    return api.load_model(weights=weights) if weights else model or None


@app.command()
def compress(
    inputs: Inputs,
    output: Output = None,
    force: Force = False,
    model: Model = "",
    weights: Weights = None,
) -> None:
    """Compress each file to FILE.aet (bits per byte and speed on one line each)."""

    def work(source: Path, target: Path) -> str:
        data = _read(source)
        start = time.perf_counter()
        coded = api.compress(data, _codec(model, weights))
        seconds = time.perf_counter() - start
        _write(target, coded, force)
        bpb = 8 * len(coded) / len(data) if data else 0.0
        rate = len(data) / seconds / 1e3 if seconds else 0.0
        sizes = f"{len(data):,} -> {len(coded):,} bytes"
        return f"{source} -> {target}: {sizes}, {bpb:.3f} bpb, {rate:.1f} KB/s"

    _each(inputs, _targets(inputs, output, ".aet", add=True), work, force)


@app.command()
def decompress(
    inputs: Inputs,
    output: Output = None,
    force: Force = False,
    model: Model = "",
    weights: Weights = None,
) -> None:
    """Restore the exact bytes of each FILE.aet (to FILE without .aet, or FILE.out)."""

    def work(source: Path, target: Path) -> str:
        data = api.decompress(_read(source), _codec(model, weights))
        _write(target, data, force)
        return f"{source} -> {target}: {len(data):,} bytes"

    _each(inputs, _targets(inputs, output, ".aet", add=False), work, force)


@app.command()
def info(inputs: Inputs, json_output: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print an .aet file's header: model, weights hash, length, checksum and blocks."""

    def work(source: Path, _target: Path) -> str:
        facts = api.info(_read(source))
        if json_output:
            return json.dumps({"file": str(source), **facts})
        coded = sum(b["kind"] == "coded" for b in facts["blocks"])
        return (
            f"{source}: model {facts['model']} ({facts['weights_hash']}), "
            f"{facts['length']:,} bytes, crc32 {facts['crc32']}, {len(facts['blocks'])} blocks "
            f"({coded} coded), {facts['bits_per_byte']:.3f} bpb"
        )

    _each(inputs, inputs, work)


def _targets(inputs: list[Path], output: Path | None, suffix: str, add: bool) -> list[Path]:
    """Where each result goes: beside the input, into a folder, to the one file named, or -."""
    if output is None:
        if STDIO in inputs:
            raise AecodecError("standard input needs -o: a file name, or - for standard output")
        return [_renamed(p, suffix, add) for p in inputs]
    if output.is_dir():
        return [output / _renamed(p, suffix, add).name for p in inputs]
    if len(inputs) > 1:
        raise AecodecError(f"{output} is not a folder; several inputs need an output folder")
    return [output]


def _renamed(path: Path, suffix: str, add: bool) -> Path:
    if add:
        return path.with_name(path.name + suffix)
    return path.with_suffix("") if path.suffix == suffix else path.with_name(path.name + ".out")


def _read(path: Path) -> bytes:
    if path == STDIO:
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except OSError as error:
        raise AecodecError(f"cannot read {path}: {error.strerror}") from None


def _write(path: Path, data: bytes, force: bool) -> None:
    if path == STDIO:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        atomic_write(path, data, force)


def _each(inputs: list[Path], targets: list[Path], work, force: bool | None = None) -> None:
    """work(input, target) for each file; a summary line each (stderr when data goes to stdout);
    one error line per failure and exit status 1 if any failed."""
    failed = 0
    for source, target in zip(inputs, targets, strict=True):
        try:
            if force is not None and target != STDIO:  # fail before the slow work
                check_output(target, force)
            line = work(source, target)
            print(line, file=sys.stderr if target == STDIO else sys.stdout)
        except AecodecError as error:
            print(f"error: {source}: {error}", file=sys.stderr)
            failed += 1
    if failed:
        raise typer.Exit(1)

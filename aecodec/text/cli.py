"""`aecodec text ...`: compress, decompress and inspect .aet files; thin over aecodec.text.api.

Mounted by the top command line with `register(app)` as `aecodec text`. `-` reads standard
input or writes standard output; files are never overwritten without --force and are written
atomically. The per-file loop, --json, --quiet and --verbose are the codec's own
(aecodec.options). Bad input ends with one error line per file and exit status 1.
"""

import time
from pathlib import Path
from typing import Annotated

import typer

from aecodec.errors import UsageError
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
        data = read_input(source)
        start = time.perf_counter()
        coded = api.compress(data, _codec(model, weights))
        seconds = time.perf_counter() - start
        write_output(target, coded, force)
        bpb = 8 * len(coded) / len(data) if data else 0.0
        rate = len(data) / seconds / 1e3 if seconds else 0.0
        sizes = f"{len(data):,} -> {len(coded):,} bytes"
        line = f"{arrow(source, target)}: {sizes}, {bpb:.3f} bpb, {rate:.1f} KB/s"
        facts = {"bytes_in": len(data), "bytes": len(coded), "bits_per_byte": round(bpb, 4)}
        return Done(line, facts, len(data), len(coded))

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
        coded = read_input(source)
        data = api.decompress(coded, _codec(model, weights))
        write_output(target, data, force)
        line = f"{arrow(source, target)}: {len(data):,} bytes"
        return Done(line, {"bytes": len(data)}, len(coded), len(data))

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


def _restored_name(path: Path) -> Path:
    return path.with_suffix("") if path.suffix == ".aet" else path.with_name(path.name + ".out")

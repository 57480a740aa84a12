"""What every wing's command line shares, defined once: the options (typer's Annotated), where
each input's result goes (`targets`), standard input and output as `-`, and the per-file loop
(`run`) that prints one line, one JSON object or one error per file, a progress bar and a
summary for batches, and exits 1 if any file failed.

Nothing here imports torch: the commands import what they need when they run.
"""

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from aecodec.errors import AecodecError, UsageError
from aecodec.files import atomic_file, atomic_write, check_output

STDIO = Path("-")  # as an input, standard input; as an output, standard output

Force = Annotated[bool, typer.Option("--force", help="Overwrite existing output files.")]
Weights = Annotated[
    Path | None,
    typer.Option("--weights", help="A model's .safetensors file (its .json card beside it)."),
]
# A string, not a Path: Path("out/") drops the slash that says "a folder".
Output = Annotated[
    str | None,
    typer.Option(
        "-o",
        "--output",
        metavar="PATH",
        help="Output file; a folder for many inputs (PATH/ or one that exists; created if "
        "missing); - for standard output.",
        show_default=False,
    ),
]
Quiet = Annotated[
    bool, typer.Option("--quiet", help="Print errors only: no lines, warnings or progress.")
]
Verbose = Annotated[bool, typer.Option("-v", "--verbose", help="Also print timings and details.")]
Json = Annotated[
    bool, typer.Option("--json", help="One JSON object per file on standard output, for scripts.")
]


@dataclass(frozen=True)
class Report:
    """How a command talks: lines for people (fewer with quiet, more with verbose) or JSON."""

    quiet: bool = False
    verbose: bool = False
    json: bool = False

    def __post_init__(self):
        if self.quiet and self.verbose:
            raise UsageError("--quiet and --verbose cannot be used together")

    @classmethod
    def of(cls, quiet: bool, verbose: bool, json: bool, output: str | None = None) -> "Report":
        """The report a command's options ask for; `-o -` leaves no room for JSON lines."""
        if json and output == "-":
            raise UsageError("--json and -o - cannot be used together: both write standard output")
        return cls(quiet, verbose, json)


@dataclass
class Done:
    """What one file's work tells the loop: a line for people, facts for --json, and the bytes
    read and written for the batch's summary."""

    line: str
    facts: dict = field(default_factory=dict)
    bytes_in: int = 0
    bytes_out: int = 0


def name(path: Path, output: bool = False) -> str:
    """How lines and errors call a file: its path, or standard input (output) for `-`."""
    return ("standard output" if output else "standard input") if path == STDIO else str(path)


def arrow(source: Path, target: Path) -> str:
    """'photo.png -> photo.aec', the start of a command's line for a file."""
    return f"{name(source)} -> {name(target, output=True)}"


def targets(inputs: list[Path], output: str | None, rename: Callable[[Path], Path]) -> list[Path]:
    """Where each input's result goes: beside it (`rename`), into a folder, to the one file
    named, or to standard output (`-`). UsageError for what cannot work: `-` read twice or
    without -o, many inputs to standard output or to a file, two inputs to one target."""
    if inputs.count(STDIO) > 1 or (STDIO in inputs and len(inputs) > 1):
        raise UsageError("- (standard input) must be the only input")
    if STDIO in inputs and output is None:
        raise UsageError("standard input needs -o: a file name, or - for standard output")
    if output == "-":
        if len(inputs) > 1:
            raise UsageError(f"-o - writes one file to standard output; {len(inputs)} inputs given")
        if is_terminal(sys.stdout):
            raise UsageError("-o - would write binary data to the terminal; redirect it: > FILE")
        return [STDIO]
    folder = None  # where the outputs go, created once the plan is known to work
    if output is None:
        found = [rename(p) for p in inputs]
    elif output.endswith(("/", os.sep)) or Path(output).is_dir() or len(inputs) > 1:
        folder = Path(output)
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"-o {output}: {folder} is a file, not a folder for the outputs")
        found = [folder / rename(p).name for p in inputs]
    else:
        folder, found = Path(output).parent, [Path(output)]
    seen: dict[Path, Path] = {}
    for source, target in zip(inputs, found, strict=True):
        if target in seen:
            raise UsageError(f"{seen[target]} and {source} would both be written to {target}")
        if target == source:
            raise UsageError(f"{source} would be overwritten by its own result; give -o")
        seen[target] = source
    if folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise AecodecError(f"cannot create the folder {folder}: {error.strerror}") from None
    return found


def read_input(path: Path) -> bytes:
    """The bytes of an input file, or of standard input for `-`."""
    if path == STDIO:
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise AecodecError(f"cannot read {path}: it is a folder") from None
    except OSError as error:
        raise AecodecError(f"cannot read {path}: {error.strerror or error}") from None


@contextmanager
def input_stream(path: Path) -> Iterator[BinaryIO]:
    """An input file opened for reading, or standard input for `-` (for streaming work)."""
    if path == STDIO:
        yield sys.stdin.buffer
        return
    try:
        file = open(path, "rb")  # noqa: SIM115 (closed below, after the caller's block)
    except IsADirectoryError:
        raise AecodecError(f"cannot read {path}: it is a folder") from None
    except OSError as error:
        raise AecodecError(f"cannot read {path}: {error.strerror or error}") from None
    with file:
        yield file


@contextmanager
def output_stream(path: Path, force: bool) -> Iterator["Counted"]:
    """A result streamed to a file put in place when the block ends (files.atomic_file), or to
    standard output for `-`; `.count` says how many bytes went out."""
    if path == STDIO:
        yield Counted(sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        with atomic_file(path, force) as file:
            yield Counted(file)


class Counted:
    """A writable stream that counts the bytes written through it (pipes cannot tell())."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream, self.count = stream, 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return self.stream.write(data)


def check_target(path: Path, force: bool) -> None:
    """Fail before the slow work if the target cannot be written (standard output always can)."""
    if path != STDIO:
        check_output(path, force)


def write_output(path: Path, data: bytes, force: bool) -> None:
    """Write a result atomically, or to standard output for `-`."""
    if path == STDIO:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        atomic_write(path, data, force)


Work = Callable[[Path, Path, Callable[..., None]], Done]


def run(
    inputs: list[Path],
    outputs: list[Path | None],
    work: Work,
    report: Report,
    summary: bool = True,
) -> None:
    """work(source, target, warn) for each input, in order; one line (or JSON object) per file,
    warnings and errors on standard error, each naming its file; a progress bar (on a terminal)
    and a summary line for batches; exit status 1 if any file failed."""
    lines = sys.stderr if STDIO in outputs else sys.stdout  # the data itself may be on stdout
    failed, bytes_in, bytes_out, start = 0, 0, 0, time.perf_counter()
    with _progress(len(inputs), report) as advance:
        for source, target in zip(inputs, outputs, strict=True):
            warnings: list[str] = []

            def warn(message: str, about: Path | None = None, source=source, warnings=warnings):
                """A warning about the input, or about `about` (the output, say)."""
                warnings.append(message)
                if not report.quiet:
                    print(f"warning: {_named(message, about or source)}", file=sys.stderr)

            began = time.perf_counter()
            try:
                done = work(source, target, warn)
            except (AecodecError, ValueError) as error:
                failed += 1
                message = _named(str(error), source, target)
                print(f"error: {message}", file=sys.stderr)
                if report.json:
                    print(json.dumps({"input": name(source), "error": message}), file=lines)
            else:
                seconds = time.perf_counter() - began
                bytes_in, bytes_out = bytes_in + done.bytes_in, bytes_out + done.bytes_out
                if report.json:
                    facts = {"input": name(source)}
                    if target is not None:
                        facts["output"] = name(target, output=True)
                    facts |= {**done.facts, "seconds": round(seconds, 4), "warnings": warnings}
                    print(json.dumps(facts), file=lines)
                elif not report.quiet:
                    extra = f"  {seconds:.2f} s" if report.verbose else ""
                    print(done.line + extra, file=lines)
            advance()
    if summary and len(inputs) > 1 and not report.quiet and not report.json:
        seconds = time.perf_counter() - start
        print(summary_line(len(inputs), failed, bytes_in, bytes_out, seconds), file=lines)
    if failed:
        raise typer.Exit(1)


def is_terminal(stream) -> bool:
    """Whether a standard stream is a terminal (no binary data there; a progress bar there)."""
    return stream.isatty()


def summary_line(files: int, failed: int, bytes_in: int, bytes_out: int, seconds: float) -> str:
    """'3 files in 1.2 s: 1,234,567 bytes in, 45,678 bytes out (27.03:1)', failures counted."""
    done = f"{files} files" + (f" ({failed} failed)" if failed else "")
    ratio = f" ({bytes_in / bytes_out:.2f}:1)" if bytes_out else ""
    return f"{done} in {seconds:.1f} s: {bytes_in:,} bytes in, {bytes_out:,} bytes out{ratio}"


def _named(message: str, source: Path, target: Path | None = None) -> str:
    """The message, prefixed with the input's name unless it already names a file involved."""
    names = {name(source), str(source)} | ({str(target)} if target and target != STDIO else set())
    return message if any(n in message for n in names) else f"{name(source)}: {message}"


@contextmanager
def _progress(total: int, report: Report) -> Iterator[Callable[[], None]]:
    """A progress bar on standard error for batches, when it is a terminal and not quiet."""
    if total < 2 or report.quiet or report.json or not is_terminal(sys.stderr):
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = (BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    console = Console(file=sys.stderr, force_terminal=True)  # is_terminal said so
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("files", total=total)
        yield lambda: progress.advance(task)

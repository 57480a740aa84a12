"""Bits per byte and speed of aecodec's text compression against the classic compressors.

    python bench/text.py ../shared/data/text                      # every row, every file
    python bench/text.py ../shared/data/text --codecs gzip,xz,aet --files alice29.txt,cut20k

Prints a Markdown table: one row per compressor (measured in this run, each file compressed and
decompressed, the round trip checked), bits per byte per file, compression and decompression
speed over all files in MB per wall second and per CPU second; then the target (the best classic
row less 15 %) and the published cmix v19 figures. `--ablation` instead prints the model's
candidates alone and mixed (bits per byte and KB per CPU second; `--lanes` adds other lane
counts). `cut20k` is the first 20,000 bytes of alice29.txt (a small file); `calgary-cat` (not
in the default set) is book1, book2, news, paper1 and paper2 end to end, 2.5 MB in three blocks,
for `--workers N` (aet's blocks in N processes). `--first-run` instead times `aecodec text
compress` and `decompress` of the 20 KB cut in fresh processes, first with an empty numba cache
(the coder's loops are compiled), then with it filled. brotli needs the `brotli` package.
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FILES = {
    "alice29.txt": "canterbury/alice29.txt",
    "asyoulik.txt": "canterbury/asyoulik.txt",
    "lcet10.txt": "canterbury/lcet10.txt",
    "plrabn12.txt": "canterbury/plrabn12.txt",
    "book1": "calgary/book1",
    "book2": "calgary/book2",
    "paper1": "calgary/paper1",
    "paper2": "calgary/paper2",
    "news": "calgary/news",
    "progc": "calgary/progc",
    "progl": "calgary/progl",
    "trans": "calgary/trans",
    "cut20k": "canterbury/alice29.txt",
}
# Not in the default set: a 2.5 MB input of three blocks, for --workers.
CALGARY_CAT = ["calgary/book1", "calgary/book2", "calgary/news", "calgary/paper1", "calgary/paper2"]
CUT = 20_000
COMMANDS = {
    "gzip": (["gzip", "-9", "-c"], ["gzip", "-d", "-c"], "gzip -9"),
    "bzip2": (["bzip2", "-9", "-c"], ["bzip2", "-d", "-c"], "bzip2 -9"),
    "xz": (["xz", "-9e", "-c"], ["xz", "-d", "-c"], "xz -9e"),
    "zstd": (
        ["zstd", "--ultra", "-22", "-c", "-q"],
        ["zstd", "-d", "-c", "-q"],
        "zstd --ultra -22",
    ),
}
# Published: cmix v19 (Byron Knoll's results table), bits per byte.
CMIX = {"alice29.txt": 1.645, "book1": 1.816}


def load(model: str | None):
    """--model: a shipped or installed model's name, else the path of a checkpoint."""
    from aecodec.text import api  # late, as in coders(): the classic rows need no torch

    name, weights = api.MODELS.name_or_path(model) if model else (api.DEFAULT_MODEL, None)
    return api.load_model(name or api.DEFAULT_MODEL, weights=weights)


def coders(names: list[str], model: str | None, workers: int = 1) -> dict:
    """name -> (label, compress(bytes) -> bytes, decompress(bytes) -> bytes)."""
    out = {}
    for name in names:
        if name in COMMANDS:
            enc, dec, label = COMMANDS[name]
            out[name] = (label, _pipe(enc), _pipe(dec))
        elif name == "brotli":
            import brotli

            out[name] = (
                "brotli -q 11",
                lambda d: brotli.compress(d, quality=11),
                brotli.decompress,
            )
        elif name == "aet":
            from aecodec.text import api

            codec = load(model)
            label = f"**aet** {codec.name}" + (f" ({workers} workers)" if workers > 1 else "")
            out[name] = (label, *_aet(api, codec, workers))
        else:
            sys.exit(f"unknown codec {name}")
    return out


def _aet(api, codec, workers: int) -> tuple:
    extra = {"workers": workers} if workers > 1 else {}  # one worker: any version of the API
    return (
        lambda d: api.compress(d, codec, **extra),
        lambda d: api.decompress(d, codec, **extra),
    )


def _pipe(command: list[str]):
    def run(data: bytes) -> bytes:
        return subprocess.run(command, input=data, capture_output=True, check=True).stdout

    return run


def _clocks() -> tuple[float, float]:
    """Wall seconds, and CPU seconds of this process and its finished children (the machine
    is shared: CPU time is the fairer speed when others are busy)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    return time.perf_counter(), cpu


def measure(coder, data: bytes) -> tuple[int, tuple, tuple]:
    """Compressed size, and (wall, cpu) seconds of compression and of decompression."""
    _, compress, decompress = coder
    start = _clocks()
    packed = compress(data)
    middle = _clocks()
    restored = decompress(packed)
    end = _clocks()
    if restored != data:
        raise SystemExit("round trip failed")
    return len(packed), _minus(middle, start), _minus(end, middle)


def _minus(a: tuple, b: tuple) -> tuple:
    return a[0] - b[0], a[1] - b[1]


def ablation(data: dict[str, bytes], model: str | None, lane_counts: list[int]) -> None:
    """The candidates for the model, on their own and mixed: bits per byte and KB per CPU
    second of compression. The model alone is its ideal code length from the coder's integer
    probabilities (no coding; the coder's compiled model, in one thread); the contexts alone
    are the coder without a model. The coder's start (numba's import, its cache) is paid
    before the clock starts."""
    import math

    from aecodec.text import coding
    from aecodec.text.mixing import kernels
    from aecodec.text.model import PAD

    codec = load(model)
    k = codec.exact.config.context
    arrays = kernels().model_arrays(codec.exact)
    for exact in (None, codec.exact):
        coding.encode_block(bytes(4096), 2, exact)
    print("| file | candidate | lanes | bpb | KB per CPU s |\n|---|---|---:|---:|---:|")
    for name, text in data.items():
        lanes = coding.lane_count(len(text))
        runs = [("adaptive contexts alone", None, lanes), ("mix", codec.exact, lanes)]
        runs += [("mix", codec.exact, n) for n in lane_counts if n != lanes]
        for label, exact, lanes in runs:
            start = _clocks()
            stream = coding.encode_block(text, lanes, exact)
            size = len(text) if stream is None else len(stream)  # None: stored
            cpu = _clocks()[1] - start[1]
            bpb, rate = 8 * size / len(text), len(text) / cpu / 1e3
            print(f"| {name} | {label} | {lanes} | {bpb:.3f} | {rate:.1f} |")
        padded = np.frombuffer(bytes([PAD]) * k + text, dtype=np.uint8)[None].copy()
        start, bits = _clocks(), 0.0
        for i in range(0, len(text), 256):
            steps = min(256, len(text) - i)
            weights = np.empty((steps, 1, 256), dtype=np.int64)
            kernels().byte_weights(padded, i, steps, 0, 1, arrays, weights)
            weights = weights[:, 0]
            chosen = weights[np.arange(steps), padded[0, k + i : k + i + steps]]
            bits -= np.log2(np.maximum(chosen, 1) / weights.sum(axis=1)).sum()
        cpu = _clocks()[1] - start[1]
        rate = len(text) / cpu / 1e3
        print(f"| {name} | {codec.name} alone | | {bits / len(text):.3f} | {rate:.1f} |")
        assert math.isfinite(bits)


def first_run(text: bytes) -> None:
    """Wall seconds of `aecodec text compress` and `decompress` of `text`, each in a new
    process, with an empty numba cache (compiled on first use) and then with it filled."""
    print("| numba cache | compress s | decompress s |\n|---|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "cut.txt").write_bytes(text)
        env = {**os.environ, "NUMBA_CACHE_DIR": str(work / "numba")}
        commands = (
            ["compress", str(work / "cut.txt"), "-o", str(work / "cut.aet"), "--force"],
            ["decompress", str(work / "cut.aet"), "-o", str(work / "back.txt"), "--force"],
        )
        for label in ("empty: the loops compiled", "filled"):
            seconds = []
            for command in commands:
                start = time.perf_counter()
                run = [sys.executable, "-m", "aecodec", "text", *command]
                subprocess.run(run, env=env, check=True, capture_output=True)
                seconds.append(time.perf_counter() - start)
            if (work / "back.txt").read_bytes() != text:
                raise SystemExit("round trip failed")
            print(f"| {label} | {seconds[0]:.1f} | {seconds[1]:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path, help="the folder holding canterbury/ and calgary/")
    parser.add_argument("--codecs", default="gzip,bzip2,xz,zstd,brotli,aet")
    parser.add_argument("--files", default=",".join(FILES))
    parser.add_argument(
        "--model", help="text model (name or checkpoint path) for the aet row (default: shipped)"
    )
    parser.add_argument("--ablation", action="store_true", help="the model's parts, alone")
    parser.add_argument(
        "--first-run", action="store_true", help="start-up with an empty and a filled cache"
    )
    parser.add_argument("--lanes", default="", help="with --ablation: lane counts to compare")
    parser.add_argument(
        "--workers", type=int, default=1, help="aet: processes for the blocks of large inputs"
    )
    args = parser.parse_args()
    files = args.files.split(",")
    data = {
        f: b"".join((args.root / p).read_bytes() for p in CALGARY_CAT)
        if f == "calgary-cat"
        else (args.root / FILES[f]).read_bytes()
        for f in files
    }
    if "cut20k" in data:
        data["cut20k"] = data["cut20k"][:CUT]
    if args.first_run:
        return first_run((args.root / FILES["cut20k"]).read_bytes()[:CUT])
    if args.ablation:
        return ablation(data, args.model, [int(n) for n in args.lanes.split(",") if n])
    rows = []
    for coder in coders(args.codecs.split(","), args.model, args.workers).values():
        sizes, enc, dec = {}, np.zeros(2), np.zeros(2)
        for f in files:
            size, t_enc, t_dec = measure(coder, data[f])
            sizes[f] = 8 * size / len(data[f])
            enc, dec = enc + t_enc, dec + t_dec
            print(f"{coder[0]} {f}: {sizes[f]:.3f} bpb", file=sys.stderr, flush=True)
        total = sum(len(d) for d in data.values()) / 1e6
        speeds = [f"{total / t:.4g}" for t in (*enc, *dec)]
        rows.append((coder[0], sizes, *speeds))
    classic = [row[1] for row in rows if not row[0].startswith("**")]
    if classic:
        best = {f: 0.85 * min(sizes[f] for sizes in classic) for f in files}
        rows.append(("target: best classic above - 15 %", best, *[""] * 4))
    rows.append(("cmix v19 (published)", CMIX, *[""] * 4))
    speeds = ("compress MB/s", "per CPU s", "decompress MB/s", "per CPU s")
    print("| compressor | " + " | ".join([*files, *speeds]) + " |")
    print("|---|" + "---:|" * (len(files) + 4))
    for label, sizes, *speeds in rows:
        cells = [f"{sizes[f]:.3f}" if f in sizes else "" for f in files]
        print(f"| {label} | " + " | ".join([*cells, *speeds]) + " |")


if __name__ == "__main__":
    main()

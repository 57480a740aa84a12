"""Bits per byte and speed of aecodec's text compression against the classic compressors.

    python bench/text.py ../shared/data/text                      # every row, every file
    python bench/text.py ../shared/data/text --codecs gzip,xz,aet --files alice29.txt,cut20k

Prints a Markdown table: one row per compressor (measured in this run, each file compressed and
decompressed, the round trip checked), bits per byte per file, compression and decompression
speed in MB/s over all files; then the published cmix v19 figures as reference rows. `cut20k` is
the first 20,000 bytes of alice29.txt (a small file). brotli needs the `brotli` package.
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

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


def coders(names: list[str], model: str | None) -> dict:
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

            codec = api.load_model(model or api.DEFAULT_MODEL)
            out[name] = (f"**aet** {codec.name}", *_aet(api, codec))
        else:
            sys.exit(f"unknown codec {name}")
    return out


def _aet(api, codec) -> tuple:
    return lambda d: api.compress(d, codec), lambda d: api.decompress(d, codec)


def _aet(api, codec) -> tuple:
    return lambda d: api.compress(d, codec), lambda d: api.decompress(d, codec)


def _pipe(command: list[str]):
    def run(data: bytes) -> bytes:
        return subprocess.run(command, input=data, capture_output=True, check=True).stdout

    return run


def measure(coder, data: bytes) -> tuple[int, float, float]:
    _, compress, decompress = coder
    start = time.perf_counter()
    packed = compress(data)
    middle = time.perf_counter()
    restored = decompress(packed)
    end = time.perf_counter()
    if restored != data:
        raise SystemExit("round trip failed")
    return len(packed), middle - start, end - middle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path, help="the folder holding canterbury/ and calgary/")
    parser.add_argument("--codecs", default="gzip,bzip2,xz,zstd,brotli,aet")
    parser.add_argument("--files", default=",".join(FILES))
    parser.add_argument("--model", help="text model for the aet row (default: the shipped one)")
    args = parser.parse_args()
    files = args.files.split(",")
    data = {f: (args.root / FILES[f]).read_bytes() for f in files}
    if "cut20k" in data:
        data["cut20k"] = data["cut20k"][:CUT]
    rows = []
    for coder in coders(args.codecs.split(","), args.model).values():
        sizes, enc, dec = {}, 0.0, 0.0
        for f in files:
            size, t_enc, t_dec = measure(coder, data[f])
            sizes[f] = 8 * size / len(data[f])
            enc, dec = enc + t_enc, dec + t_dec
            print(f"{coder[0]} {f}: {sizes[f]:.3f} bpb", file=sys.stderr, flush=True)
        total = sum(len(d) for d in data.values()) / 1e6
        rows.append((coder[0], sizes, f"{total / enc:.3f}", f"{total / dec:.3f}"))
    classic = [sizes for label, sizes, _, _ in rows if not label.startswith("**")]
    if classic:
        best = {f: 0.85 * min(sizes[f] for sizes in classic) for f in files}
        rows.append(("target: best classic above - 15 %", best, "", ""))
    rows.append(("cmix v19 (published)", CMIX, "", ""))
    print("| compressor | " + " | ".join(files) + " | compress MB/s | decompress MB/s |")
    print("|---|" + "---:|" * (len(files) + 2))
    for label, sizes, enc, dec in rows:
        cells = [f"{sizes[f]:.3f}" if f in sizes else "" for f in files]
        print(f"| {label} | " + " | ".join(cells) + f" | {enc} | {dec} |")


if __name__ == "__main__":
    main()

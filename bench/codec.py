"""Kodak figures of a shipped codec model: rate, quality, coding overhead, speed.

    python bench/codec.py ../shared/data/kodak [--qualities 0,33,67,100] [--model NAME]

For each quality: mean bits per pixel of the real .aec files, mean PSNR (RGB, 8-bit output), the
file size against the model's estimated rate (sum of -log2 p) plus the container header, and the
mean encode and decode seconds per image (the API, the model loaded) with the machine's threads.
Files are format version 4: decoded by the integer synthesis, exact on every machine.
"""

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

from aecodec import bitstream, codec
from aecodec.allocator import reuse_freed_memory
from aecodec.image import find_images, read_picture
from aecodec.metrics import psnr
from aecodec.zoo import DEFAULT_MODEL, available_models


def measure(path: Path, quality: float, model: str | None) -> dict:
    picture = read_picture(path)
    h, w = picture.rgb.shape[:2]
    start = time.perf_counter()
    result = codec.compress_picture(picture, quality, model)
    encode = time.perf_counter() - start
    start = time.perf_counter()
    decoded = codec.decompress(result.data)
    decode = time.perf_counter() - start
    header, payloads = bitstream.unpack(result.data)
    coded = payloads[header.format_version >= bitstream.INTEGER_VERSION :]  # not the grid
    header_bytes = len(result.data) - sum(len(p) for p in coded)
    return {
        "bpp": len(result.data) * 8 / (h * w),
        "estimated_bpp": (result.estimated_bits + header_bytes * 8) / (h * w),
        "psnr": psnr(np.asarray(decoded.convert("RGB")), picture.rgb),
        "encode_s": encode,
        "decode_s": decode,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--qualities", default="0,33,67,100")
    parser.add_argument("--model", default=None)
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    parser.add_argument("--write-card", action="store_true", help="store the figures in the card")
    args = parser.parse_args()
    reuse_freed_memory()  # time the codec in the process the command line runs it in
    images = find_images([args.folder])[: args.limit]
    qualities = [float(q) for q in args.qualities.split(",")]
    measure(images[0], qualities[0], args.model)  # warm-up: loads and converts the model once
    print(f"{len(images)} images from {args.folder}, {torch.get_num_threads()} threads")
    print("| quality | bpp | PSNR dB | file vs estimate | encode s | decode s |")
    print("|---:|---:|---:|---:|---:|---:|")
    figures = []
    for quality in qualities:
        rows = [measure(path, quality, args.model) for path in images]
        mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        overhead = (mean["bpp"] / mean["estimated_bpp"] - 1) * 100
        print(
            f"| {quality:g} | {mean['bpp']:.4f} | {mean['psnr']:.2f} | {overhead:+.2f}% "
            f"| {mean['encode_s']:.2f} | {mean['decode_s']:.3f} |",
            flush=True,
        )
        figures.append({"quality": quality, **{k: float(f"{v:.5g}") for k, v in mean.items()}})
    if args.write_card:
        write_card(args.model or DEFAULT_MODEL, figures, "python " + " ".join(sys.argv))


def write_card(model: str, figures: list[dict], command: str) -> None:
    """Record the figures in the shipped model's card (the weights, and their hash, stay)."""
    card_path = available_models()[model].with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["kodak"] = figures
    card["kodak_measured"] = {"command": command, "date": date.today().isoformat()}
    card_path.write_text(json.dumps(card, indent=2) + "\n")


if __name__ == "__main__":
    main()

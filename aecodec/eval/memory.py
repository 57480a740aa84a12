"""Peak memory and time of aecodec's command line compressing and decompressing a large image.

The photo is upscaled to the size asked for; each command runs in a process of its own, timed
from its start (Python, imports and model loading included) and with its own peak resident
memory (from os.wait4). Decompression runs twice, to PNG and to BMP: the difference is the
time of PNG's compression (zlib, one core), the rest is decoding.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from aecodec.zoo import MODELS

_STEPS = (
    ("compress", "big.png", "big.aec", ["-q", "50"]),
    ("decompress to PNG", "big.aec", "out.png", []),
    ("decompress to BMP", "big.aec", "out.bmp", []),
)


def measure_memory(photo: Path, megapixels: float = 24, model: str | None = None) -> dict:
    """Size, bpp, and seconds and peak MB of each step, for `photo` upscaled to `megapixels`."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with Image.open(photo) as image:
            scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
            size = (round(image.width * scale), round(image.height * scale))
            image.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(tmp / "big.png")
        result = {"width": size[0], "height": size[1], "steps": {}}
        named, weights = MODELS.name_or_path(model) if model else (None, None)
        for step, source, target, options in _STEPS:
            command = [sys.executable, "-m", "aecodec", step.split()[0], str(tmp / source)]
            command += ["-o", str(tmp / target), "--quiet", *options]
            if named and step == "compress":
                command += ["--model", named]
            if weights:
                command += ["--weights", str(weights)]
            start = time.perf_counter()
            process = subprocess.Popen(command, stderr=subprocess.PIPE)
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - start
            if os.waitstatus_to_exitcode(status):
                raise RuntimeError(f"{step} failed: {process.stderr.read().decode()[-2000:]}")
            peak_mb = usage.ru_maxrss / 1024  # KiB on Linux
            result["steps"][step] = {"seconds": round(seconds, 1), "peak_mb": round(peak_mb)}
        n_bytes = (tmp / "big.aec").stat().st_size
        result["bytes"], result["bpp"] = n_bytes, n_bytes * 8 / (size[0] * size[1])
    return result


def memory_markdown(result: dict) -> str:
    w, h = result["width"], result["height"]
    lines = [
        f"## Memory: one {w}x{h} ({w * h / 1e6:.1f} MP) photo at quality 50",
        "",
        "| step | time (s) | peak memory (MB) |",
        "|---|---:|---:|",
    ]
    for step, figures in result["steps"].items():
        lines.append(f"| {step} | {figures['seconds']} | {figures['peak_mb']:,} |")
    lines.append(f"\nFile: {result['bytes']:,} bytes, {result['bpp']:.3f} bpp.\n")
    return "\n".join(lines)

"""Peak memory and time of one aecodec compression and decompression of a large image.

The photo is upscaled to the size asked for; each step runs in a fresh process so that its peak
resident memory (ru_maxrss) is its own and not the benchmark's.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

_STEP = """
import resource, sys, time
from pathlib import Path
import aecodec
from aecodec.zoo import MODELS
source, target, step, model = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
start = time.perf_counter()
named, weights = MODELS.name_or_path(model) if model else (None, None)
if step == "compress":
    data = aecodec.compress(source, quality=50, model=named, weights=weights)
    target.write_bytes(data)
else:
    aecodec.decompress(source.read_bytes(), weights=weights).save(target)
seconds = time.perf_counter() - start
print(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def measure_memory(photo: Path, megapixels: float = 24, model: str | None = None) -> dict:
    """Size, bpp, and seconds and peak MB of each step, for `photo` upscaled to `megapixels`."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with Image.open(photo) as image:
            scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
            size = (round(image.width * scale), round(image.height * scale))
            image.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(tmp / "big.png")
        result = {"width": size[0], "height": size[1]}
        for step, source, target in (("compress", "big.png", "big.aec"),
                                     ("decompress", "big.aec", "out.png")):  # fmt: skip
            args = [str(tmp / source), str(tmp / target), step, model or ""]
            done = subprocess.run([sys.executable, "-c", _STEP, *args],
                                  capture_output=True, text=True, check=True)  # fmt: skip
            seconds, peak_mb = map(float, done.stdout.split())
            result[step] = {"seconds": round(seconds, 1), "peak_mb": round(peak_mb)}
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
    for step in ("compress", "decompress"):
        lines.append(f"| {step} | {result[step]['seconds']} | {result[step]['peak_mb']:,} |")
    lines.append(f"\nFile: {result['bytes']:,} bytes, {result['bpp']:.3f} bpp.\n")
    return "\n".join(lines)

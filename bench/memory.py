"""Peak memory and time of compressing and decompressing one large photo (24 megapixels).

    python bench/memory.py ../shared/data/kodak/kodim23.png [--megapixels 24]

The photo is upscaled to the size asked for; each step runs in a fresh process so that its peak
resident memory (ru_maxrss) is its own.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

STEP = """
import resource, sys, time
from pathlib import Path
import aecodec
source, target, step = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
start = time.perf_counter()
if step == "compress":
    target.write_bytes(aecodec.compress(source, quality=50))
else:
    aecodec.decompress(source.read_bytes()).save(target)
seconds = time.perf_counter() - start
print(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def run_step(step: str, source: Path, target: Path) -> tuple[float, float]:
    done = subprocess.run([sys.executable, "-c", STEP, str(source), str(target), step],
                          capture_output=True, text=True, check=True)  # fmt: skip
    seconds, peak_mb = map(float, done.stdout.split())
    return seconds, peak_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo", type=Path)
    parser.add_argument("--megapixels", type=float, default=24)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with Image.open(args.photo) as photo:
            scale = (args.megapixels * 1e6 / (photo.width * photo.height)) ** 0.5
            size = (round(photo.width * scale), round(photo.height * scale))
            photo.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(tmp / "big.png")
        print(f"{size[0]}x{size[1]} = {size[0] * size[1] / 1e6:.1f} MP")
        for step, source, target in (("compress", "big.png", "big.aec"),
                                     ("decompress", "big.aec", "out.png")):  # fmt: skip
            seconds, peak = run_step(step, tmp / source, tmp / target)
            print(f"{step:>10}: {seconds:6.1f} s, peak memory {peak:,.0f} MB")
        size_bytes = (tmp / "big.aec").stat().st_size
        print(f"file: {size_bytes:,} bytes, {size_bytes * 8 / (size[0] * size[1]):.3f} bpp")


if __name__ == "__main__":
    main()

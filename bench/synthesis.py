"""Seconds of the synthesis transform alone, three ways, on the latents of real images.

    python bench/synthesis.py ../shared/data/kodak [--model NAME] [--limit 6] [--repeat 3]

Rows: PyTorch's float64 layers (the exact decoder until 2026-11-27), aecodec.nn.synthesis64 (the
exact decoder now) and float32 (`--fast`), each timed untiled, best of --repeat per image and
summed; and how many 8-bit values of the new float64 path differ from PyTorch's float64.
"""

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aecodec import codec  # noqa: E402
from aecodec.image import find_images  # noqa: E402
from aecodec.nn.synthesis64 import Float64Synthesis  # noqa: E402
from aecodec.zoo import DEFAULT_MODEL  # noqa: E402


def best_of(repeat: int, way: torch.nn.Module, x: torch.Tensor) -> tuple[float, torch.Tensor]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = way(x)
        times.append(time.perf_counter() - start)
    return min(times), out


def to_8bit(x: torch.Tensor) -> np.ndarray:
    return x.clamp(0, 1).mul(255).round().to(torch.uint8).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--limit", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    g_s = codec.cached_model(args.model).model.g_s
    ways = {
        "PyTorch float64": copy.deepcopy(g_s).double(),
        "synthesis64 float64": Float64Synthesis(g_s),
        "PyTorch float32 (--fast)": g_s,
    }
    seconds = dict.fromkeys(ways, 0.0)
    differ = values = 0
    images = find_images([args.folder])[: args.limit]
    with torch.no_grad():
        for path in images:
            data = codec.compress(str(path), quality=50, model=args.model)
            _, _, y = codec.decode_latents(data, args.model)
            outputs = {}
            for name, way in ways.items():
                x = y if name.endswith("(--fast)") else y.double()
                elapsed, outputs[name] = best_of(args.repeat, way, x)
                seconds[name] += elapsed
            reference, new = (to_8bit(outputs[k]) for k in list(ways)[:2])
            differ += int((reference != new).sum())
            values += reference.size
    print(f"{len(images)} images from {args.folder}, model {args.model}, "
          f"{torch.get_num_threads()} threads, best of {args.repeat}")  # fmt: skip
    print("| synthesis | seconds per image |\n|---|---:|")
    for name, total in seconds.items():
        print(f"| {name} | {total / len(images):.3f} |")
    print(f"8-bit values where synthesis64 differs from PyTorch float64: {differ} of {values:,}")


if __name__ == "__main__":
    main()

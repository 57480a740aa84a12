"""The synthesis transform three ways on the same files: seconds, PSNR and the BD-rate it costs.

    python bench/synthesis.py ../shared/data/kodak [--model NAME] [--limit 6] [--repeat 3]

Each image is coded at qualities 25, 50, 75 and 100; the latents of each file go through the
integer synthesis (the exact decoder of format version 4, aecodec.nn.synthesis_int), the float64
one (the exact decoder of versions 1 and 2, aecodec.nn.synthesis64) and PyTorch's float32
(`--fast`), each timed whole (untiled), best of --repeat, and the 8-bit pixels are compared with
the original. The files are the same, so the rates are too: the BD-rate of a decoder against
float64 is what its PSNR costs.
"""

import argparse
import functools
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aecodec import codec  # noqa: E402
from aecodec.allocator import reuse_freed_memory  # noqa: E402
from aecodec.decoder.container import read_grid  # noqa: E402
from aecodec.eval.bdrate import bd_psnr, bd_rate  # noqa: E402
from aecodec.image import find_images, read_picture  # noqa: E402
from aecodec.metrics import psnr  # noqa: E402
from aecodec.nn.synthesis64 import Float64Synthesis  # noqa: E402
from aecodec.nn.synthesis_int import IntegerSynthesis  # noqa: E402
from aecodec.zoo import DEFAULT_MODEL  # noqa: E402

QUALITIES = (25, 50, 75, 100)


def best_of(repeat: int, decode) -> tuple[float, np.ndarray]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        pixels = decode()
        times.append(time.perf_counter() - start)
    return min(times), pixels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--limit", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    reuse_freed_memory()  # time the decoders in the process the command line runs them in
    net = codec.cached_model(args.model).model
    float64 = Float64Synthesis(net.g_s)
    integer = IntegerSynthesis(net.g_s)
    names = ("integer", "float64", "float32 (--fast)")
    seconds = dict.fromkeys(names, 0.0)
    rates = []  # per image: bpp per quality
    quality = {name: [] for name in names}  # per image: PSNR per quality
    images = find_images([args.folder])[: args.limit]
    with torch.no_grad():
        for path in images:
            picture = read_picture(str(path))
            h, w = picture.rgb.shape[:2]
            rates.append([])
            for name in names:
                quality[name].append([])
            for q in QUALITIES:
                data = codec.compress(picture.rgb, quality=q, model=args.model)
                header, payloads, y_hat = codec.decode_latents(data)
                grid = read_grid(header, payloads, len(net.g_s))  # the file's, checked
                x = y_hat * net.gains(header.quality)[1]
                ways = {
                    "integer": functools.partial(
                        integer, y_hat, codec._integer_gain(net, header), grid
                    ),
                    "float64": functools.partial(to_8bit, float64, x),
                    "float32 (--fast)": functools.partial(to_8bit, net.g_s, x),
                }
                rates[-1].append(8 * len(data) / (h * w))
                for name, decode in ways.items():
                    elapsed, pixels = best_of(args.repeat, decode)
                    seconds[name] += elapsed / len(QUALITIES)
                    pixels = pixels[0, :, :h, :w].permute(1, 2, 0).numpy()
                    quality[name][-1].append(psnr(pixels, picture.rgb))
    print(f"{len(images)} images from {args.folder}, model {args.model}, qualities {QUALITIES}, "
          f"{torch.get_num_threads()} threads, best of {args.repeat}")  # fmt: skip
    print("| synthesis | seconds per image | PSNR dB | BD-PSNR vs float64 | BD-rate vs float64 |")
    print("|---|---:|---:|---:|---:|")
    mean_rates = np.mean(rates, axis=0)
    anchor = np.mean(quality["float64"], axis=0)
    for name in names:
        curve = np.mean(quality[name], axis=0)
        print(
            f"| {name} | {seconds[name] / len(images):.3f} | {curve.mean():.3f} "
            f"| {bd_psnr(mean_rates, anchor, mean_rates, curve):+.3f} dB "
            f"| {bd_rate(mean_rates, anchor, mean_rates, curve):+.2f} % |"
        )


def to_8bit(synthesis, x: torch.Tensor) -> torch.Tensor:
    return synthesis(x).clamp(0, 1).mul(255).round().to(torch.uint8)


if __name__ == "__main__":
    main()

"""How faithful a model's transforms can be: PSNR with the latent quantised ever more finely.

    python bench/ceiling.py ../shared/data/kodak [--model NAME] [--quality 100] [--limit N]

For each image, the analysis's latent y at a quality's gains goes through the synthesis rounded
as the codec rounds it (step 1, what a file holds at that quality), rounded on a grid 2, 4 and 8
times finer, and not rounded at all. The last column is the most any rate can buy with these
transforms and gains: a quality range that reaches higher needs transforms trained for it.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aecodec.image import find_images, read_picture  # noqa: E402
from aecodec.metrics import psnr  # noqa: E402
from aecodec.zoo import DEFAULT_MODEL, load_model  # noqa: E402

STEPS = (1, 2, 4, 8)  # the quantisation step divided by these


def ceiling(net, rgb, quality: float) -> list[float]:
    """PSNR (dB, 8-bit output) at each of STEPS, then unquantised."""
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float().div(255)
    h, w = x.shape[2:]
    s = net.stride
    padded = torch.nn.functional.pad(x, (0, -w % s, 0, -h % s), mode="replicate")
    gain, inverse = net.gains(quality)
    with torch.no_grad():
        y = net.g_a(padded) * gain
        latents = [torch.round(y * s) / s for s in STEPS] + [y]
        return [psnr(_pixels(net.g_s(v * inverse)[:, :, :h, :w]), rgb) for v in latents]


def _pixels(x_hat: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] -> (H, W, 3) uint8, as a decoder writes them."""
    return (x_hat[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--quality", type=float, default=100)
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    args = parser.parse_args()
    net = load_model(args.model).model.eval()
    paths = find_images([args.folder])[: args.limit]
    rows = [ceiling(net, read_picture(str(path)).rgb, args.quality) for path in paths]
    means = [sum(column) / len(rows) for column in zip(*rows, strict=True)]
    print(f"{len(rows)} images from {args.folder}, {args.model} at quality {args.quality:g}\n")
    heads = [f"step / {s}" for s in STEPS] + ["unquantised"]
    print("| " + " | ".join(heads) + " |")
    print("|" + "---:|" * len(heads))
    print("| " + " | ".join(f"{m:.2f} dB" for m in means) + " |")


if __name__ == "__main__":
    main()

"""What RDOQ's factor KAPPA buys: real files with each factor against plain rounding.

    python bench/rdoq.py ../shared/data/bsds500/test/2*.jpg --limit 8 [--kappas 5,8,16] [--model M]

Set KAPPA on images other than Kodak (it is the evaluation set). For each image, quality and
factor (0 = plain rounding): the bytes of the real .aec file and the PSNR of its exact decoding.
Prints, per factor, the PSNR gain at equal rate against the plain curve at each quality (PCHIP in
log-rate through that image's plain points, averaged over images) and the mean BD-rate.
"""

import argparse
from pathlib import Path

import numpy as np
from scipy.interpolate import PchipInterpolator

from aecodec import codec
from aecodec.eval.bdrate import bd_rate
from aecodec.image import find_images, read_picture
from aecodec.latent import rdoq
from aecodec.metrics import psnr


def points(path: Path, qualities: list[float], kappa: float, model: str | None) -> list[tuple]:
    """(bpp, PSNR) of one image at each quality with RDOQ factor `kappa`."""
    picture = read_picture(path)
    h, w = picture.rgb.shape[:2]
    rdoq.KAPPA = kappa
    out = []
    for quality in qualities:
        data = codec.compress_picture(picture, quality, model).data
        decoded = np.asarray(codec.decompress(data).convert("RGB"))
        out.append((len(data) * 8 / (h * w), psnr(decoded, picture.rgb)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", type=Path, nargs="+", help="images, or folders of images")
    parser.add_argument("--kappas", default=f"{rdoq.KAPPA:g}")
    parser.add_argument("--qualities", default="0,10,20,30,40,50,60,70,80,90,100")
    parser.add_argument("--model", default=None)
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    args = parser.parse_args()
    qualities = [float(q) for q in args.qualities.split(",")]
    kappas = [float(k) for k in args.kappas.split(",")]
    folders = [p for p in args.paths if p.is_dir()]
    images = sorted([p for p in args.paths if not p.is_dir()] + find_images(folders))[: args.limit]
    print(f"{len(images)} images; PSNR gain (dB) at equal rate against plain rounding")
    print("| KAPPA | " + " | ".join(f"q{q:g}" for q in qualities) + " | BD-rate |")
    print("|---:|" + "---:|" * (len(qualities) + 1))
    plain = {path: points(path, qualities, 0.0, args.model) for path in images}
    for kappa in kappas:
        gains, rates = [], []
        for path in images:
            base, test = np.array(plain[path]), np.array(points(path, qualities, kappa, args.model))
            curve = PchipInterpolator(np.log(base[:, 0]), base[:, 1])
            inside = (test[:, 0] >= base[0, 0]) & (test[:, 0] <= base[-1, 0])
            gains.append(np.where(inside, test[:, 1] - curve(np.log(test[:, 0])), np.nan))
            rates.append(bd_rate(base[:, 0], base[:, 1], test[:, 0], test[:, 1]))
        gains = np.array(gains)  # NaN where the point lies outside the plain curve's rates
        known = ~np.isnan(gains)
        mean = np.where(known, gains, 0).sum(0) / np.maximum(known.sum(0), 1)
        shown = zip(mean, known.any(0), strict=True)
        cells = " | ".join(f"{g:+.3f}" if n else "-" for g, n in shown)
        print(f"| {kappa:g} | {cells} | {np.mean(rates):+.2f} % |")


if __name__ == "__main__":
    main()

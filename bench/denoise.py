"""Denoising benchmark: BSD68 (gray), CBSD68 (colour) and Kodak at sigma 15, 25 and 50.

    python bench/denoise.py [--data ../shared/data] [--limit N] [--methods ours,nlm,...]

Noise: Gaussian, drawn from a fixed seed per image and level, added to the 8-bit image and
rounded and clipped to 8 bits (a noisy photo file holds nothing else). PSNR on the 8-bit output,
averaged over the images of a set. BSD68 is the ITU-R 601 luma of the 68 images listed in
bsds500/BSD68.txt (Pillow's convert("L")), CBSD68 the same images in colour. Baselines run on
the same noisy images in the same run: scikit-image's non-local means and wavelet (BayesShrink)
denoising, both told the true sigma, and BM3D when the `bm3d` package is installed (its licence
is non-commercial: an optional extra). `ours` is told the true sigma, `ours-auto` estimates it;
`ours-x8` averages the network over 8 flipped and transposed copies (`--passes 8`).
Published rows are other papers' figures on unclipped noise, for reference only.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aecodec.metrics import psnr  # noqa: E402

SIGMAS = (15, 25, 50)
SETS = ("BSD68", "CBSD68", "Kodak")
PUBLISHED = {  # (set, sigma) -> dB, from the papers' tables (noise not clipped)
    "CBM3D (published)": {("CBSD68", 25): 30.71},
    "CDnCNN (published)": {("CBSD68", 25): 31.24},
    "DRUNet (published)": {("CBSD68", 25): 31.69},
    "BM3D (published)": {("BSD68", 25): 28.57},
    "DnCNN (published)": {("BSD68", 25): 29.23},
}


def load_set(name: str, data: Path, limit: int | None) -> list[tuple[str, np.ndarray]]:
    if name not in SETS:
        raise SystemExit(f"unknown set {name!r}: the sets are {', '.join(SETS)}")
    if name == "Kodak":
        paths = sorted((data / "kodak").glob("kodim*.png"))
    else:
        listed = (data / "bsds500" / "BSD68.txt").read_text().split()
        paths = [data / "bsds500" / p for p in listed]
    paths = paths[:limit] if limit else paths
    mode = "L" if name == "BSD68" else "RGB"
    return [(p.stem, np.asarray(Image.open(p).convert(mode))) for p in paths]


def add_noise(clean: np.ndarray, sigma: float, seed: int, index: int) -> np.ndarray:
    rng = np.random.default_rng([seed, int(sigma), index])
    noisy = clean.astype(np.float64) + rng.normal(0, sigma, clean.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def methods(names: list[str], model: str | None, weights: str | None) -> dict:
    """name -> f(noisy uint8, sigma) -> uint8 of the same shape."""
    found = {}
    for name in names:  # ours, ours-auto, ours-x8, ours-auto-x8, ...
        ours, _, passes = name.partition("-x")
        if ours in ("ours", "ours-auto"):
            found[name] = _ours(ours == "ours-auto", passes or "1", model, weights)
    if "nlm" in names:
        from skimage.restoration import denoise_nl_means

        def nlm(x, s):  # scikit-image's documented settings, told the true sigma
            y = denoise_nl_means(x / 255, h=0.6 * s / 255, sigma=s / 255, fast_mode=True,
                                 patch_size=5, patch_distance=6,
                                 channel_axis=-1 if x.ndim == 3 else None)  # fmt: skip
            return to_u8(y)

        found["nlm"] = nlm
    if "wavelet" in names:
        from skimage.restoration import denoise_wavelet

        def wavelet(x, s):
            colour = x.ndim == 3
            y = denoise_wavelet(x / 255, sigma=s / 255, method="BayesShrink", mode="soft",
                                rescale_sigma=True, convert2ycbcr=colour,
                                channel_axis=-1 if colour else None)  # fmt: skip
            return to_u8(y)

        found["wavelet"] = wavelet
    if "bm3d" in names:
        try:
            import bm3d
        except ImportError:
            print("bm3d is not installed (pip install bm3d): no BM3D row", file=sys.stderr)
        else:

            def run_bm3d(x, s):
                if x.ndim == 3:
                    return to_u8(bm3d.bm3d_rgb(x / 255, s / 255))
                return to_u8(bm3d.bm3d(x / 255, s / 255))

            found["bm3d"] = run_bm3d
    found["noisy"] = lambda x, s: x
    return {n: found[n] for n in names if n in found}


def _ours(estimate: bool, passes: str, model: str | None, weights: str | None):
    from aecodec.errors import AecodecError
    from aecodec.restore.denoise import api

    try:  # before any image, by the api's own rule
        passes = api.check_passes(int(passes) if passes.isdigit() else passes)
    except AecodecError as error:
        raise SystemExit(f"--methods: {error}") from None

    def denoise(x, s):
        sigma = None if estimate else s
        return np.asarray(api.denoise(x, sigma, model=model, weights=weights, passes=passes))

    return denoise


def to_u8(y: np.ndarray) -> np.ndarray:
    return (np.clip(y, 0, 1) * 255).round().astype(np.uint8)


def run(args: argparse.Namespace) -> dict:
    chosen = methods(args.methods.split(","), args.model, args.weights)
    results = {m: {} for m in chosen}  # method -> "set/sigma" -> {"psnr", "seconds"}
    for set_name in args.sets.split(","):
        images = load_set(set_name, args.data, args.limit)
        for sigma in args.sigmas:
            noisy = [add_noise(img, sigma, args.seed, i) for i, (_, img) in enumerate(images)]
            for name, fn in chosen.items():
                scores, seconds = [], []
                for (_, clean), dirty in zip(images, noisy, strict=True):
                    start = time.perf_counter()
                    out = fn(dirty, sigma)
                    seconds.append(time.perf_counter() - start)
                    scores.append(psnr(out, clean))
                key = f"{set_name}/{sigma}"
                row = {"psnr": float(np.mean(scores)), "seconds": float(np.mean(seconds))}
                results[name][key] = row
                line = f"{name:10s} {key:10s} {row['psnr']:.2f} dB {row['seconds']:.2f} s/image"
                print(line, file=sys.stderr, flush=True)
    return results


def markdown(results: dict, sets: list[str], sigmas: list[int]) -> str:
    """PSNR per set and sigma, and seconds per image: over all cells, and on Kodak (768x512)."""
    keys = [f"{s}/{g}" for s in sets for g in sigmas]
    head = "| method | " + " | ".join(f"{k.replace('/', ' σ')}" for k in keys)
    lines = [head + " | s/image | s/Kodak image |", "|---" * (len(keys) + 3) + "|"]
    for name, row in results.items():
        present = [k for k in keys if k in row]
        if not present:
            continue
        cells = [f"{row[k]['psnr']:.2f}" if k in row else "" for k in keys]
        seconds = np.mean([row[k]["seconds"] for k in present])
        kodak = [row[k]["seconds"] for k in present if k.startswith("Kodak/")]
        timing = f"{seconds:.2f} | " + (f"{np.mean(kodak):.2f}" if kodak else "")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {timing} |")
    for name, published in PUBLISHED.items():
        row = {f"{s}/{g}": value for (s, g), value in published.items()}
        cells = [f"{row[k]:.2f}" if k in row else "" for k in keys]
        if any(cells):
            lines.append(f"| {name} | " + " | ".join(cells) + " | | |")
    return "\n".join(lines)


def merged_table(paths: list[Path], sets: list[str], sigmas: list[int]) -> str:
    """One table of the rows of several --json files (a row's cells from every file that has
    them), and the commands and dates they came from."""
    results: dict[str, dict] = {}
    for path in paths:
        record = json.loads(path.read_text())
        for method, row in record["results"].items():
            results.setdefault(method, {}).update(row)
    notes = [f"`{json.loads(p.read_text())['command']}` ({json.loads(p.read_text())['date']})"
             for p in paths]  # fmt: skip
    return markdown(results, sets, sigmas) + "\n\nMeasured by " + ", ".join(notes) + "."


def write_crops(folder: Path, data: Path, seed: int) -> None:
    """The clean and noisy (sigma 25) crops that docs/denoise.md shows beside the command's
    output: a 256x256 crop of kodim23."""
    clean = np.asarray(Image.open(data / "kodak" / "kodim23.png").convert("RGB"))
    clean = clean[120:376, 300:556]
    Image.fromarray(clean).save(folder / "denoise-clean.png")
    Image.fromarray(add_noise(clean, 25, seed, 0)).save(folder / "denoise-noisy.png")
    print(f"wrote {folder / 'denoise-clean.png'} and {folder / 'denoise-noisy.png'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--sigmas", type=lambda t: [int(v) for v in t.split(",")],
                        default=list(SIGMAS))  # fmt: skip
    parser.add_argument("--methods", default="ours,ours-auto,nlm,wavelet,noisy",
                        help="any of ours, ours-auto, nlm, wavelet, bm3d, noisy; ours-x8 "
                        "(x2, x4; ours-auto-x8) averages 8 flipped, turned passes")  # fmt: skip
    parser.add_argument("--model", help="a denoising model's name (default: the shipped ones)")
    parser.add_argument("--weights", help="a denoiser's .safetensors file")
    parser.add_argument("--limit", type=int, help="only the first N images of each set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--crops", type=Path, help="only write the docs' crops into this folder")
    parser.add_argument("--table", type=Path, nargs="+", help="only print a table of --json files")
    args = parser.parse_args()
    if args.table:
        print(merged_table(args.table, args.sets.split(","), args.sigmas))
        return
    if args.crops:
        write_crops(args.crops, args.data, args.seed)
        return
    import torch

    torch.set_num_threads(1)  # the timings are for one core, as on a busy machine
    results = run(args)
    print(markdown(results, args.sets.split(","), args.sigmas))
    if args.json:
        command = "python bench/denoise.py " + " ".join(sys.argv[1:])
        record = {"command": command.strip(), "date": time.strftime("%Y-%m-%d"),
                  "results": results}  # fmt: skip
        args.json.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()

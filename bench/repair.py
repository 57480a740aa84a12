"""Repair (inpainting) on Kodak against the classic tools; prints a markdown table.

Each of the 24 Kodak images gets one mask of each kind in aecodec/restore/repair/masks.py (thin
scratches, irregular 10-20 %, irregular 20-30 %, 64x64 boxes), drawn from a generator seeded with
(seed, kind, image): the same masks on every machine and with any --limit. Every method fills the
same holes and keeps the other pixels; PSNR (RGB, 8-bit) and MS-SSIM are on the whole image, as
is usual in the inpainting literature, and averaged over the images. The baselines run in the
same process: OpenCV's Telea (2004) and Navier-Stokes (Bertalmio et al. 2001) inpainting, radius
3, and scikit-image's biharmonic inpainting (split into regions); beside them, the network's
parameter-free starting fill alone, to show what the learned part adds. Time is the wall-clock
time of filling one image (model loading excluded), with torch's default threads, on a machine
whose cores other work may share (the load average is printed); below the table, one image's
best and median of 5 runs, and its CPU time on one thread (the cost of the work, whatever else
runs).

    python bench/repair.py                                  # all 24 images, ~15 minutes
    python bench/repair.py --limit 4                        # a quick look
    python bench/repair.py --card aecodec/restore/weights/repair-unet.json   # record in the card
    python bench/repair.py --limit 0 --crops docs/img       # only the README's before/after crops
"""

import argparse
import json
import os
import time
from datetime import date
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from skimage.restoration import inpaint_biharmonic

from aecodec.files import atomic_write
from aecodec.image import find_images, read_rgb
from aecodec.metrics import ms_ssim, psnr
from aecodec.restore.repair.api import DEFAULT_MODEL, fill, load_repairer
from aecodec.restore.repair.masks import KINDS
from aecodec.restore.repair.model import push_pull, smooth_edges
from aecodec.restore.zoo import REPAIRERS

CROPS = [
    ("kodim23.png", "irregular 20-30%", (180, 60, 256)),
    ("kodim08.png", "scratches", (120, 240, 256)),
]


def opencv(flag: int):
    def method(rgb: np.ndarray, holes: np.ndarray) -> np.ndarray:
        return cv2.inpaint(rgb, holes.astype(np.uint8) * 255, 3, flag)

    return method


def biharmonic(rgb: np.ndarray, holes: np.ndarray) -> np.ndarray:
    out = inpaint_biharmonic(rgb, holes, channel_axis=-1, split_into_regions=True)
    return np.where(holes[..., None], np.clip(out * 255, 0, 255).round(), rgb).astype(np.uint8)


def smooth_fill(config):
    """The network's starting point alone: what the learned correction adds is the difference."""

    def method(rgb: np.ndarray, holes: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float().div(255)
        known = torch.from_numpy(~holes)[None, None].float()
        y = push_pull(x * known, known, config.sweeps)
        y = smooth_edges(y, x * known, known, config.edge_sweeps)
        out = (y[0].permute(1, 2, 0) * 255).round().clamp(0, 255).to(torch.uint8).numpy()
        return np.where(holes[..., None], out, rgb)

    return method


def mask_for(kind: int, index: int, shape: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, kind, index])
    return list(KINDS.values())[kind](*shape, rng)


def run(images: list[Path], methods: dict, seed: int) -> dict:
    """kind -> method -> {psnr, ms_ssim, seconds, cover}, each averaged over the images."""
    sums: dict = {k: {m: np.zeros(3) for m in methods} for k in KINDS}
    cover = {k: 0.0 for k in KINDS}
    for index, path in enumerate(images):
        rgb = read_rgb(path)
        for kind, name in enumerate(KINDS):
            holes = mask_for(kind, index, rgb.shape[:2], seed)
            cover[name] += holes.mean() / len(images)
            damaged = np.where(holes[..., None], 0, rgb).astype(np.uint8)
            for method, fn in methods.items():
                start = time.perf_counter()
                out = fn(damaged, holes)
                seconds = time.perf_counter() - start
                assert (out[~holes] == rgb[~holes]).all(), f"{method} changed known pixels"
                sums[name][method] += [psnr(out, rgb), ms_ssim(out, rgb), seconds]
        print(f"  {path.name} done", flush=True)
    return {
        name: {
            m: dict(zip(("psnr", "ms_ssim", "seconds"), (s / len(images)).tolist(), strict=True))
            | {"cover": cover[name]}
            for m, s in by_method.items()
        }
        for name, by_method in sums.items()
    }


def timing(net, path: Path, seed: int) -> dict[str, float]:
    """Seconds to fill one image: best and median wall-clock time of 5 runs with torch's default
    threads (the median is what it took beside the other processes sharing the cores), and the
    best CPU time of 3 runs on one thread (what the work costs, whatever else runs)."""
    rgb = read_rgb(path)
    holes = mask_for(2, 0, rgb.shape[:2], seed)
    wall, cpu = [], []
    for _ in range(5):
        start = time.perf_counter()
        fill(net, rgb, holes)
        wall.append(time.perf_counter() - start)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    for _ in range(3):
        start = time.process_time()
        fill(net, rgb, holes)
        cpu.append(time.process_time() - start)
    torch.set_num_threads(threads)
    return {"best": min(wall), "median": float(np.median(wall)), "cpu_one_thread": min(cpu)}


def table(results: dict) -> str:
    lines = [
        "| holes (mean cover) | method | PSNR dB | MS-SSIM | s/image |",
        "|---|---|--:|--:|--:|",
    ]
    for kind, by_method in results.items():
        for method, r in by_method.items():
            lines.append(
                f"| {kind} ({r['cover']:.1%}) | {method} | {r['psnr']:.2f} | "
                f"{r['ms_ssim']:.4f} | {r['seconds']:.2f} |"
            )
    return "\n".join(lines)


def crops(folder: Path, model: str | None, weights: str | None, out: Path, seed: int) -> None:
    """Before/after crops for the README: the masked picture (holes transparent, written as
    PNG), the `repair` command's output, the original; each a square crop."""
    import typer

    from aecodec.restore.repair.cli import register

    app = typer.Typer()
    app.callback()(lambda: None)  # a group, so the command keeps its name as on `aecodec`
    register(app)
    paths = sorted(find_images(folder))
    for name, kind, (top, left, side) in CROPS:
        index = [p.name for p in paths].index(name)
        rgb = read_rgb(paths[index])
        holes = mask_for(list(KINDS).index(kind), index, rgb.shape[:2], seed)
        stem = out / f"repair-{Path(name).stem}"
        alpha = np.where(holes, 0, 255).astype(np.uint8)
        Image.fromarray(np.dstack([rgb, alpha])).save(f"{stem}-masked-full.png")
        args = ["repair", f"{stem}-masked-full.png", "-o", f"{stem}-repaired-full.png", "--force"]
        args += ["--model", model] if model else []
        args += ["--weights", weights] if weights else []
        print("aecodec " + " ".join(args[:4]))
        app(args, standalone_mode=False)
        shown = np.where(holes[..., None], 255, rgb).astype(np.uint8)  # holes as white
        repaired = np.asarray(Image.open(f"{stem}-repaired-full.png"))
        for label, array in (("masked", shown), ("repaired", repaired), ("original", rgb)):
            crop = array[top : top + side, left : left + side]
            Image.fromarray(crop).save(f"{stem}-{label}.png")
        for suffix in ("masked-full", "repaired-full"):
            os.remove(f"{stem}-{suffix}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", default="../shared/data/kodak", type=Path)
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    parser.add_argument("--seed", type=int, default=0, help="seed of the masks")
    parser.add_argument("--model", default=None, help=f"repair model [default: {DEFAULT_MODEL}]")
    parser.add_argument("--weights", default=None, help="a .safetensors file instead")
    parser.add_argument("--card", type=Path, help="write the figures into this model card")
    parser.add_argument("--crops", type=Path, help="also write before/after crops here")
    args = parser.parse_args()
    weights = Path(args.weights) if args.weights else REPAIRERS.find(args.model or DEFAULT_MODEL)
    net = load_repairer(weights)
    methods = {
        f"{weights.stem} (ours)": lambda rgb, holes: fill(net, rgb, holes),
        "its smooth fill alone": smooth_fill(net.config),
        "OpenCV Telea": opencv(cv2.INPAINT_TELEA),
        "OpenCV Navier-Stokes": opencv(cv2.INPAINT_NS),
        "scikit-image biharmonic": biharmonic,
    }
    images = find_images(args.kodak)[: args.limit] if args.limit != 0 else []
    command = "python bench/repair.py" + (f" --limit {args.limit}" if args.limit else "")
    if images:
        load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        print(f"# {date.today()}  {len(images)} Kodak images, masks seed {args.seed}, {load}")
        print(f"# {command}")
        results = run(images, methods, args.seed)
        print(table(results))
        seconds = timing(net, images[0], args.seed)
        print(f"\n{images[0].name} (irregular 20-30 %), {torch.get_num_threads()} threads: best "
              f"{seconds['best']:.2f} s, median {seconds['median']:.2f} s of 5 runs; "
              f"{seconds['cpu_one_thread']:.2f} CPU-seconds on one thread")  # fmt: skip
        if args.card:
            card = json.loads(args.card.read_text())
            card["kodak_repair"] = {"date": date.today().isoformat(), "command": command,
                                    "images": len(images), "seed": args.seed,
                                    "seconds_768x512": seconds,
                                    "results": results}  # fmt: skip
            atomic_write(args.card, (json.dumps(card, indent=2) + "\n").encode(), force=True)
    if args.crops:
        crops(args.kodak, args.model, args.weights, args.crops, args.seed)


if __name__ == "__main__":
    main()

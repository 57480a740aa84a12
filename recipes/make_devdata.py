"""Build the training data pack that recipes/device_train.sh expects in .devdata/.

    python recipes/make_devdata.py ../shared/data [--quality 95] [--scale 0.5]

The device tool moves at most 64 MiB with the working tree (tracked files included: see
docs/training.md for leaving the shipped models a run does not need behind), so the 49 PNG
photos are downscaled (0.5 by default, which also softens their noise; 36.8 MiB in all) and
re-encoded as JPEG (4:4:4, quality 95); BSDS500 train and test are copied as they are (JPEG
already), and 16 images of BSDS500 val are the validation set. Kodak is never included.
hyperprior-vr was trained on a pack made with --scale 1, hyperprior-cb-wide with --scale 0.5.
"""

import argparse
import shutil
from pathlib import Path

from PIL import Image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shared_data", type=Path)
    parser.add_argument("--quality", type=int, default=95)
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=Path(".devdata"))
    args = parser.parse_args()
    photos = args.out / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    for path in sorted((args.shared_data / "photos").glob("*.png")):
        with Image.open(path) as image:
            size = (round(image.width * args.scale), round(image.height * args.scale))
            image = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
            image.save(photos / f"{path.stem}.jpg", quality=args.quality, subsampling=0)
    for split in ("train", "test"):
        target = args.out / "bsds500" / split
        target.mkdir(parents=True, exist_ok=True)
        for path in (args.shared_data / "bsds500" / split).glob("*.jpg"):
            shutil.copy(path, target / path.name)
    val = args.out / "val"
    val.mkdir(parents=True, exist_ok=True)
    for path in sorted((args.shared_data / "bsds500" / "val").glob("*.jpg"))[:16]:
        shutil.copy(path, val / path.name)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{args.out}: {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()

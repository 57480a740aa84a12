"""Build the training data pack that recipes/device_train.sh expects in .devdata/.

    python recipes/make_devdata.py ../shared/data [--quality 95]

The device tool moves at most 64 MiB with the working tree, so the 49 PNG photos are re-encoded as
JPEG (4:4:4, quality 95 by default); BSDS500 train and test are copied as they are (JPEG already),
and 16 images of BSDS500 val are the validation set. Kodak is never included.
"""

import argparse
import shutil
from pathlib import Path

from PIL import Image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shared_data", type=Path)
    parser.add_argument("--quality", type=int, default=95)
    parser.add_argument("--out", type=Path, default=Path(".devdata"))
    args = parser.parse_args()
    photos = args.out / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    for path in sorted((args.shared_data / "photos").glob("*.png")):
        with Image.open(path) as image:
            image.convert("RGB").save(
                photos / f"{path.stem}.jpg", quality=args.quality, subsampling=0
            )
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

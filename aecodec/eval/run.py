"""Run codecs over images and settings, measuring rate, distortion and time.

One row per image x codec x setting. Rate is the size of the whole file the codec writes
(headers included), in bits per pixel of the original image. Decoded images are converted to
8-bit RGB before they are scored, so every codec is judged on what a viewer would display.
"""

import time
from pathlib import Path

import numpy as np
from PIL import Image
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from aecodec.errors import DataError
from aecodec.eval.codecs import BenchmarkError, Codec, get_codec
from aecodec.image import LOSSLESS_SUFFIXES, read_rgb
from aecodec.image import find_images as image_files
from aecodec.metrics import ms_ssim, psnr

METRICS = ("bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time")
_ROW_KEYS = ("bpp", "psnr", "ms_ssim", "encode_s", "decode_s")  # the row field of each metric


def find_images(folder: Path, limit: int | None = None) -> list[Path]:
    """The lossless images directly in `folder`, sorted by name, at most `limit` of them."""
    try:
        images = image_files(folder, recursive=False, suffixes=LOSSLESS_SUFFIXES)
    except DataError as error:
        raise BenchmarkError(str(error)) from None
    if not images:
        raise BenchmarkError(f"no PNG, PPM, BMP or TIFF images in {folder}")
    return images[:limit] if limit else images


def load_rgb(path: Path) -> Image.Image:
    """The image as 8-bit RGB, read as the codec reads it."""
    return Image.fromarray(read_rgb(path))


def measure(codec: Codec, image: Image.Image, setting: float) -> tuple[dict, Image.Image]:
    """Encode and decode once; the row's measurements and the decoded image."""
    start = time.perf_counter()
    data = codec.encode(image, setting)
    encoded = time.perf_counter()
    decoded = codec.decode(data)
    decode_s = time.perf_counter() - encoded
    original, result = np.asarray(image), np.asarray(decoded.convert("RGB"))
    row = {
        "bytes": len(data),
        "bpp": len(data) * 8 / (image.width * image.height),
        "psnr": psnr(original, result),
        "ms_ssim": ms_ssim(original, result),
        "encode_s": encoded - start,
        "decode_s": decode_s,
    }
    return row, decoded


def run_benchmark(images: list[Path], codecs: list[str], progress: bool = True) -> list[dict]:
    """One row per image x codec x setting, with the fields of `report.CSV_FIELDS`:
    image, codec, setting, width, height, bytes, bpp, psnr, ms_ssim, encode_s, decode_s."""
    if not images:
        raise BenchmarkError("no images to benchmark")
    loaded = {name: get_codec(name) for name in codecs}  # fails before any work is done
    total = len(images) * sum(len(c.settings) for c in loaded.values())
    rows = []
    with _progress(progress) as bar:
        task = bar.add_task("benchmark", total=total)
        for index, path in enumerate(images):
            image = load_rgb(path)
            for name, codec in loaded.items():
                if index == 0:
                    _warm_up(codec, image)
                for setting in codec.settings:
                    bar.update(task, description=f"{path.stem} {name} {setting}")
                    row, _ = measure(codec, image, setting)
                    rows.append(
                        {"image": path.name, "codec": name, "setting": setting}
                        | {"width": image.width, "height": image.height}
                        | row
                    )
                    bar.advance(task)
    return rows


def aggregate(rows: list[dict]) -> dict[str, dict[str, list[float]]]:
    """Per codec, the mean over images at each setting, in CompressAI's result schema.

    Settings keep the order of the codec's sweep (low to high rate), so each list is one RD curve.
    """
    groups: dict[str, dict[float, list[dict]]] = {}
    for row in rows:
        groups.setdefault(row["codec"], {}).setdefault(row["setting"], []).append(row)
    results = {}
    for codec, by_setting in groups.items():
        results[codec] = {
            metric: [float(np.mean([r[key] for r in group])) for group in by_setting.values()]
            for metric, key in zip(METRICS, _ROW_KEYS, strict=True)
        }
    return results


def _warm_up(codec: Codec, image: Image.Image) -> None:
    """One untimed round trip on a small crop, so library and model loading is not timed."""
    codec.decode(codec.encode(image.crop((0, 0, 64, 64)), codec.settings[0]))


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
    )

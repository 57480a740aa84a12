"""Reading and writing images: the codec sees 8-bit RGB plus an optional alpha plane.

`read_picture` accepts whatever Pillow or numpy hands us and records the original `layout`
(L, LA, RGB or RGBA) so that `to_pil` can give the user back the kind of image they gave.
Anything lossy on the way in (16 bits to 8, float rounding, extra frames) becomes a warning.
"""

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from aecodec.errors import DataError, UnsupportedImage
from aecodec.files import atomic_write, check_output
from aecodec.metadata import Metadata, from_pil, pil_info, save_options

LAYOUTS = ("L", "LA", "RGB", "RGBA")
_ORIENTATION = 0x0112  # EXIF tag
# The largest image read or decoded unless the caller allows more: Pillow's own limit, above which
# it warns of a decompression bomb (89.5 megapixels). Images and .aec headers are checked against
# it before any pixel is decoded or any buffer is allocated.
DEFAULT_MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485


IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".ppm", ".bmp", ".tif", ".tiff"})
LOSSLESS_SUFFIXES = frozenset({".png", ".ppm", ".bmp", ".tif", ".tiff"})  # for benchmarks


def find_images(
    folders: str | Path | list[Path],
    *,
    recursive: bool = True,
    suffixes: frozenset[str] = IMAGE_SUFFIXES,
    limit: int | None = None,
) -> list[Path]:
    """The image files in `folders` (by suffix; recursively unless told), sorted by path, at
    most `limit` of them; DataError for a folder that does not exist."""
    found: list[Path] = []
    for folder in [folders] if isinstance(folders, str | Path) else folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise DataError(f"no such folder: {folder}")
        paths = folder.rglob("*") if recursive else folder.iterdir()
        found += [p for p in paths if p.suffix.lower() in suffixes and p.is_file()]
    return sorted(found)[:limit] if limit else sorted(found)


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as (H, W, 3) uint8 RGB, read as the codec reads it (alpha dropped)."""
    return read_picture(path).rgb


@dataclass
class Picture:
    """An image as the codec sees it, plus what it takes to give the user's kind of image back."""

    rgb: np.ndarray  # (H, W, 3) uint8; gray images replicated to 3 channels
    alpha: np.ndarray | None  # (H, W) uint8, or None when the image has no transparency
    layout: str  # "L", "LA", "RGB" or "RGBA": what the user gave, what decode gives back
    warnings: list[str] = field(default_factory=list)
    metadata: Metadata = field(default_factory=Metadata)  # ICC profile, EXIF, XMP; arrays: none


def read_picture(
    source: str | Path | bytes | Image.Image | np.ndarray,
    max_pixels: int | None = None,
    name: str | None = None,
) -> Picture:
    """An image file, the bytes of one, a PIL image or an array as a Picture, or
    UnsupportedImage saying why not (naming the file, or `name` where given).

    Arrays: (H, W) or (H, W, 1) is L, (H, W, 2) LA, (H, W, 3) RGB, (H, W, 4) RGBA; uint8 as is,
    uint16 keeps its high byte, floats are taken as 0..1 and scaled by 255. Multi-frame images
    give their first frame. EXIF orientation is applied. Images over `max_pixels` (default
    DEFAULT_MAX_PIXELS) are refused from their header, before their pixels are decoded.
    """
    max_pixels = max_pixels or DEFAULT_MAX_PIXELS
    if isinstance(source, np.ndarray):
        return _from_array(source, name or "the array", max_pixels)
    if not isinstance(source, str | Path | bytes | Image.Image):
        kind = type(source).__name__
        raise TypeError(f"cannot read a {kind}; pass a path, bytes, an image or an array")
    with _own_size_limit():
        if isinstance(source, Image.Image):
            label = name or getattr(source, "filename", "") or "the image"
            return _from_pil(source, label, max_pixels)
        label = name or ("the data" if isinstance(source, bytes) else str(source))
        opened = io.BytesIO(source) if isinstance(source, bytes) else Path(source)
        with _open(opened, label) as image:
            return _from_pil(image, label, max_pixels)


def to_pil(
    rgb: np.ndarray, alpha: np.ndarray | None, layout: str, metadata: Metadata | None = None
) -> Image.Image:
    """The user's layout rebuilt from the codec's RGB and alpha planes, with `metadata` in its
    `.info` (icc_profile, exif, xmp) as Pillow's readers put it there.

    L is the rounded mean of the three channels rather than the first: after lossy coding they
    differ a little, and their mean is the least noisy estimate of the gray that was replicated.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be (H, W, 3) uint8, not {rgb.shape} {rgb.dtype}")
    if (alpha is not None) != layout.endswith("A"):
        raise ValueError(f"layout {layout} {'needs' if alpha is None else 'has no'} alpha plane")
    if alpha is not None and (alpha.dtype != np.uint8 or alpha.shape != rgb.shape[:2]):
        raise ValueError(f"alpha must be {rgb.shape[:2]} uint8, not {alpha.shape} {alpha.dtype}")
    planes = [rgb] if layout.startswith("RGB") else [_gray(rgb)[..., None]]
    if alpha is not None:
        planes.append(alpha[..., None])
    array = np.concatenate(planes, axis=2)
    image = Image.fromarray(array[..., 0] if layout == "L" else array)  # mode follows the shape
    image.info.update(pil_info(metadata or Metadata()))
    return image


@dataclass(frozen=True)
class OutputFormat:
    """How decompressed pixels are written in one format: lossless wherever the format allows,
    unless the user asks for a quality (`lossy`, only where the format has one)."""

    pillow: str  # Pillow's name of the format
    default: dict  # save options without a quality
    lossy: dict | None = None  # save options with a quality; None: the format is lossless only
    alpha: bool = True  # whether it stores transparency
    plugin: str | None = None  # a module that registers Pillow's writer (imported when needed)


# WebP's `exact` keeps the colour under fully transparent pixels, which lossless WebP would
# otherwise discard. JPEG and AVIF have no lossless mode here: without a quality they add as
# little loss as is reasonable on top of ours (quality 95 or 90, no chroma subsampling).
_444 = {"subsampling": "4:4:4"}
_FORMATS = {
    ".png": OutputFormat("PNG", {}),
    ".webp": OutputFormat("WEBP", {"lossless": True, "exact": True}, {"method": 6}),
    ".tif": OutputFormat("TIFF", {"compression": "tiff_lzw"}),
    ".tiff": OutputFormat("TIFF", {"compression": "tiff_lzw"}),
    ".bmp": OutputFormat("BMP", {}, alpha=False),  # Pillow writes RGBA but reads back RGB
    ".jpg": OutputFormat("JPEG", {"quality": 95, "subsampling": 0}, {}, alpha=False),
    ".jpeg": OutputFormat("JPEG", {"quality": 95, "subsampling": 0}, {}, alpha=False),
    ".avif": OutputFormat("AVIF", {"quality": 90, **_444}, _444),
    ".jxl": OutputFormat("JXL", {"lossless": True}, {}, plugin="pillow_jxl"),
}


def output_format(suffix: str, quality: int | None = None, name: str = "") -> OutputFormat:
    """The format an output's extension names, checked: UnsupportedImage (naming the output
    `name`) for an unknown extension, one this Pillow cannot write, or a quality for a format
    that is lossless only."""
    suffix = suffix.lower() if suffix.startswith(".") else "." + suffix.lower()
    where = f"cannot write {name}: " if name else ""
    if suffix not in _FORMATS:
        known = ", ".join(_FORMATS)
        raise UnsupportedImage(f"{where}unknown image extension '{suffix}'; use one of {known}")
    chosen = _FORMATS[suffix]
    if quality is not None and chosen.lossy is None:
        lossy = ", ".join(s for s, f in _FORMATS.items() if f.lossy is not None)
        raise UnsupportedImage(
            f"{where}a quality applies to {lossy} outputs; {suffix} is always lossless"
        )
    if not _can_write(chosen):
        hint = f" (pip install {chosen.plugin.replace('_', '-')})" if chosen.plugin else ""
        raise UnsupportedImage(f"{where}this Pillow cannot write {chosen.pillow} images{hint}")
    return chosen


def encode_picture(
    image: Image.Image, suffix: str, quality: int | None = None, name: str = "the output"
) -> tuple[bytes, list[str]]:
    """`image` as the bytes of the format `suffix` names (at `quality` if given), with its ICC
    profile, EXIF and XMP (`.info`) wherever the format keeps them; and warnings for what the
    format could not keep."""
    chosen = output_format(suffix, quality, name)
    if not chosen.alpha and "A" in image.getbands():
        raise UnsupportedImage(
            f"{name} cannot store transparency; use .png, .webp, .avif, .jxl or .tiff"
        )
    options = dict(chosen.default) if quality is None else {**chosen.lossy, "quality": quality}
    if chosen.pillow == "AVIF" and image.mode in ("L", "LA"):
        options.pop("subsampling", None)  # 4:4:4 would turn gray into RGB; Pillow picks 4:0:0
    metadata_as = "WEBP" if chosen.pillow in ("AVIF", "JXL") else chosen.pillow  # same options
    extra, warnings = save_options(metadata_as, image.info)
    buffer = io.BytesIO()
    try:
        image.save(buffer, chosen.pillow, **options, **extra)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UnsupportedImage(
            f"cannot write a {image.mode} image as {chosen.pillow}: {error}"
        ) from error
    return buffer.getvalue(), warnings


def save_picture(
    image: Image.Image, path: Path, force: bool = False, quality: int | None = None
) -> list[str]:
    """Write `image` in the format its extension names (lossless unless `quality`), atomically;
    existing files need force. Its ICC profile, EXIF and XMP (`.info`) go wherever the format
    keeps them; the warnings say what it could not keep."""
    path = Path(path)
    output_format(path.suffix, quality, str(path))  # before any other check
    check_output(path, force)  # before encoding, which can be slow for large images
    data, warnings = encode_picture(image, path.suffix, quality, str(path))
    atomic_write(path, data, force)
    return warnings


def _can_write(chosen: OutputFormat) -> bool:
    if chosen.plugin:
        try:
            __import__(chosen.plugin)
        except ImportError:
            return False
    Image.init()
    return chosen.pillow in Image.SAVE


# Pillow's own bomb check is a module global with a lower default (179 megapixels, warning from
# 89); while any read is active we turn it off and apply `max_pixels` from the header ourselves.
_bomb_lock = threading.Lock()
_bomb_readers = 0
_bomb_saved: int | None = None


@contextmanager
def _own_size_limit() -> Iterator[None]:
    global _bomb_readers, _bomb_saved
    with _bomb_lock:
        if _bomb_readers == 0:
            _bomb_saved = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
        _bomb_readers += 1
    try:
        yield
    finally:
        with _bomb_lock:
            _bomb_readers -= 1
            if _bomb_readers == 0:
                Image.MAX_IMAGE_PIXELS = _bomb_saved


def _open(source: Path | io.BytesIO, name: str) -> Image.Image:
    """Open the header only; every failure is one sentence naming the file."""
    try:
        empty = source.getbuffer().nbytes == 0 if isinstance(source, io.BytesIO) else (
            source.is_file() and source.stat().st_size == 0
        )  # fmt: skip
        if empty:
            raise UnsupportedImage(f"{name} is an empty file")
        return Image.open(source)
    except FileNotFoundError:
        raise UnsupportedImage(f"{name} does not exist") from None
    except IsADirectoryError:
        raise UnsupportedImage(f"{name} is a folder, not an image") from None
    except PermissionError:
        raise UnsupportedImage(f"{name} cannot be read: permission denied") from None
    except UnidentifiedImageError:
        raise UnsupportedImage(f"{name} is not an image Pillow can read") from None
    except Image.DecompressionBombError as error:
        raise UnsupportedImage(f"{name} is too large: {error}") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise UnsupportedImage(f"{name} has a corrupt image header ({error})") from error


def _from_pil(image: Image.Image, name: str, max_pixels: int) -> Picture:
    _check_size(image.size, name, max_pixels)
    warnings = []
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        image.seek(0)
        warnings.append(f"image has {frames} frames; only the first is used")
    # Pillow decodes 16-bit RGB(A) and LA PNGs straight to 8-bit RGB(A), keeping the high byte;
    # only the decoder's raw mode, gone after load(), still tells us what the file held.
    raw = _raw_modes(image)
    if any(";16" in mode for mode in raw) and not image.mode.startswith("I"):
        warnings.append("16-bit image reduced to 8 bits")
    decoded = _decode(image, name)
    picture = _planes(decoded, raw, name, warnings)
    picture.metadata = from_pil(image, decoded is not image, picture.layout, picture.warnings)
    return picture


def _planes(image: Image.Image, raw: list[str], name: str, warnings: list[str]) -> Picture:
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        return _split(_array_to_u8(np.asarray(image), image.mode, name, warnings), warnings)
    if image.mode == "RGBA" and any(mode.startswith("LA") for mode in raw):
        return _split(np.asarray(image)[..., [0, 3]], warnings)  # 16-bit LA arrives as RGBA
    layout = _layout(image, name)
    return _split(np.asarray(image if image.mode == layout else image.convert(layout)), warnings)


def _raw_modes(image: Image.Image) -> list[str]:
    # A tile's args are the raw mode itself (PNG) or a tuple starting with it (raw, libtiff).
    # Images made in memory, or already loaded, have no tiles: their mode is the whole story.
    tiles = getattr(image, "tile", None) or []
    args = [tile.args if isinstance(tile.args, tuple) else (tile.args,) for tile in tiles]
    return [arg for group in args for arg in group if isinstance(arg, str)]


def _decode(image: Image.Image, name: str) -> Image.Image:
    """Decode every pixel now, so truncated data fails here and not deep inside the codec."""
    try:
        image.load()
        if image.getexif().get(_ORIENTATION, 1) in range(2, 9):
            image = ImageOps.exif_transpose(image)  # a new image; the caller's stays as it was
        return image
    except MemoryError:
        raise
    except Image.DecompressionBombError as error:
        raise UnsupportedImage(f"{name} is too large: {error}") from None
    except Exception as error:  # Pillow's decoders raise OSError, ValueError, struct.error, ...
        raise UnsupportedImage(f"{name} has truncated or corrupt image data ({error})") from error


def _layout(image: Image.Image, name: str) -> str:
    mode = image.mode
    if mode in ("1", "L"):
        return "L"
    if mode in ("LA", "La"):
        return "LA"
    if mode == "PA" or (mode == "P" and image.has_transparency_data):
        return "RGBA"
    if mode in ("P", "RGB", "RGBX", "CMYK", "YCbCr", "HSV", "LAB"):
        return "RGB"
    if mode in ("RGBA", "RGBa"):
        return "RGBA"
    raise UnsupportedImage(f"{name} has pixel mode {mode}, which aecodec cannot read")


def _from_array(array: np.ndarray, name: str, max_pixels: int) -> Picture:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (2, 3, 4)):
        raise UnsupportedImage(f"{name} has shape {array.shape}; expected (H, W) or (H, W, 1..4)")
    _check_size((array.shape[1], array.shape[0]), name, max_pixels)
    warnings = []
    return _split(_array_to_u8(array, array.dtype.name, name, warnings), warnings)


def _array_to_u8(array: np.ndarray, kind: str, name: str, warnings: list[str]) -> np.ndarray:
    """uint8 from 8-bit, 16-bit ("I;16*", Pillow's "I" too) or float ("F": 0..255, else 0..1)."""
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind == "f":
        return _float_to_u8(array, 1.0 if kind == "F" else 255.0, name, warnings)
    is_uint16 = array.dtype.kind == "u" and array.dtype.itemsize == 2  # either byte order
    if array.dtype.kind not in "iu" or not (is_uint16 or kind == "I"):
        raise UnsupportedImage(f"{name} has {array.dtype} values; use uint8, uint16 or float")
    if array.min() < 0 or array.max() > 65535:
        warnings.append("values outside 0..65535 clipped")
        array = np.clip(array, 0, 65535)
    warnings.append("16-bit image reduced to 8 bits")
    # The high byte, as Pillow does for 16-bit RGB PNGs, so every 16-bit source reduces alike;
    # it also maps 8-bit data stored as v * 257 back to v exactly.
    return (array >> 8).astype(np.uint8)


def _float_to_u8(array: np.ndarray, scale: float, name: str, warnings: list[str]) -> np.ndarray:
    if not np.isfinite(array).all():
        raise UnsupportedImage(f"{name} has NaN or infinite values")
    scaled = array.astype(np.float32) * np.float32(scale)
    if scaled.min() < 0 or scaled.max() > 255:
        warnings.append(f"values outside 0..{255 / scale:g} clipped")
        scaled = np.clip(scaled, 0, 255)
    rounded = np.rint(scaled)
    if np.abs(rounded - scaled).max() > 1e-3:  # tolerate float noise from u8 / 255 * 255
        warnings.append("floating-point image rounded to 8 bits")
    return rounded.astype(np.uint8)


def _split(array: np.ndarray, warnings: list[str]) -> Picture:
    """A (H, W) or (H, W, 2..4) uint8 array as owned RGB and alpha planes."""
    channels = 1 if array.ndim == 2 else array.shape[2]
    layout = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
    planes = array.reshape(*array.shape[:2], channels)
    colour = planes[..., :3] if channels >= 3 else np.repeat(planes[..., :1], 3, axis=2)
    alpha = planes[..., -1].copy() if channels in (2, 4) else None
    return Picture(np.array(colour, order="C"), alpha, layout, warnings)


def _gray(rgb: np.ndarray) -> np.ndarray:
    # Thirds never tie, so adding 1 before the floor division rounds to nearest.
    total = rgb.astype(np.uint16).sum(axis=2)
    return ((total + 1) // 3).astype(np.uint8)


def _check_size(size: tuple[int, int], name: str, max_pixels: int) -> None:
    width, height = size
    if width == 0 or height == 0:
        raise UnsupportedImage(f"{name} has no pixels ({width}x{height})")
    check_pixels(width, height, name, max_pixels)


def check_pixels(
    width: int, height: int, name: str, max_pixels: int | None = None, stride: int = 1
) -> None:
    """UnsupportedImage if an image of that size is over the pixel limit (the same check for an
    image file and for what an .aec header claims). With `stride`, the area counted is the one a
    codec works on, each side padded to a multiple of it: a 1x8192 image costs what 64x8192
    does, so that is what the limit must see."""
    max_pixels = max_pixels or DEFAULT_MAX_PIXELS
    padded_w, padded_h = -(-width // stride) * stride, -(-height // stride) * stride
    if padded_w * padded_h > max_pixels:
        area, pixels = f"{width}x{height}", width * height
        if pixels <= max_pixels:  # only the padding takes it over: say so
            area, pixels = f"{area}, coded as {padded_w}x{padded_h}", padded_w * padded_h
        amount, limit = _pixels(pixels), _pixels(max_pixels).rstrip("s")
        raise UnsupportedImage(
            f"{name} is {area} = {amount}, over the {limit.replace(' ', '-')} limit "
            "(allow more with --max-pixels)"
        )


def _pixels(count: int) -> str:
    """268435456 -> '268 megapixels'; 10**10 -> '10 gigapixels'."""
    for size, unit in ((10**9, "gigapixels"), (10**6, "megapixels"), (1, "pixels")):
        if count >= size:
            value = count / size
            text = f"{value:.0f}" if value >= 10 else f"{value:.1f}".removesuffix(".0")
            return f"{text} {unit}"
    return f"{count} pixels"

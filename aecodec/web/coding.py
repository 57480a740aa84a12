"""The work behind the page, free of HTTP: an upload read as a picture, one side of a comparison
(a codec at a setting or at a target size, with its readouts), and the restore wings' calls.

Every function here is CPU work that may take seconds; app.py runs them in the job queue.
"""

import importlib
import importlib.util
import io
import math
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from aecodec import codec as aec
from aecodec import metrics
from aecodec.errors import AecodecError, UnsupportedImage
from aecodec.eval.codecs import get_codec, unavailable_reason
from aecodec.image import Picture, read_picture, to_pil


class RequestError(AecodecError):
    """A request the page or a script got wrong: an unknown codec, a setting out of range."""


@dataclass(frozen=True)
class Setting:
    name: str  # what the codec calls it: "quality", or "ratio" for JPEG 2000
    low: float
    high: float
    default: float
    grows: bool = True  # a higher setting gives a larger file


@dataclass(frozen=True)
class CodecSpec:
    name: str
    label: str
    suffix: str  # of the downloaded file
    media_type: str
    setting: Setting | None  # None: the original, nothing to set


QUALITY = Setting("quality", 0, 100, 75)
SPECS = {
    "aec": CodecSpec("aec", "aecodec", ".aec", "application/octet-stream", QUALITY),
    "jpeg": CodecSpec("jpeg", "JPEG", ".jpg", "image/jpeg", Setting("quality", 1, 100, 75)),
    "webp": CodecSpec("webp", "WebP", ".webp", "image/webp", QUALITY),
    "avif": CodecSpec("avif", "AVIF", ".avif", "image/avif", Setting("quality", 0, 100, 60)),
    "jxl": CodecSpec("jxl", "JPEG XL", ".jxl", "image/jxl", QUALITY),
    # OpenJPEG's compression ratio against 24-bit RGB: a higher ratio is a smaller file.
    "jp2": CodecSpec(
        "jp2", "JPEG 2000", ".j2k", "application/octet-stream", Setting("ratio", 4, 200, 48, False)
    ),  # a raw codestream, which has no registered media type
    "original": CodecSpec("original", "Original", "", "application/octet-stream", None),
}
# The page's pictures: on kodim23, zlib level 1 takes 0.06 s and 620 KB, level 6 (Pillow's
# default) 0.33 s and 561 KB; the page is on this machine, so speed wins.
DISPLAY_PNG_LEVEL = 1


@dataclass
class Upload:
    name: str  # the file name the user gave, only ever shown, never opened
    data: bytes
    picture: Picture
    png: bytes  # the picture as the page shows it

    @property
    def size(self) -> int:
        return len(self.data) + len(self.png) + self.picture.rgb.nbytes


@dataclass
class Result:
    """One picture made from an upload: a codec's file and its decoding, or a restored photo."""

    image: str  # the upload's id
    kind: str  # a codec name, "denoise" or "repair"
    label: str
    setting: float | None
    target: int | None  # the byte budget asked for, if any
    data: bytes  # the coded file (for restore results, the PNG)
    suffix: str
    png: bytes
    width: int
    height: int
    psnr: float | None = None  # None: identical to the original (or not measured)
    ms_ssim: float | None = None  # None: under 161 pixels on a side (or not measured)
    encode_s: float = 0.0
    decode_s: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.data) + len(self.png)


def available_codecs() -> list[str]:
    """The codecs this machine can run, in the page's order."""
    return [name for name in SPECS if name == "original" or unavailable_reason(name) is None]


def restore_available() -> dict[str, bool]:
    """Which restore wings are installed: the page shows a tab for each."""
    return {kind: _find(f"aecodec.restore.{kind}.api") for kind in ("denoise", "repair")}


def read_upload(data: bytes, name: str, max_pixels: int) -> Upload:
    """The bytes of an uploaded file as a picture, or UnsupportedImage naming the file."""
    if not data:
        raise UnsupportedImage(f"{name} is an empty file")
    try:
        with warnings.catch_warnings():  # read_picture applies our own limit, below Pillow's
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise UnsupportedImage(f"{name} is not an image Pillow can read") from None
    except Image.DecompressionBombError as error:
        raise UnsupportedImage(f"{name} is too large: {error}") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise UnsupportedImage(f"{name} has a corrupt image header ({error})") from None
    with image:
        image.filename = name  # read_picture names the image by it in its messages
        picture = read_picture(image, max_pixels)
    return Upload(name, data, picture, _png(_pil(picture)))


@dataclass(frozen=True)
class Model:
    """The aec model the server codes with: a registry name, or weights from a path."""

    name: str | None = None
    weights: str | None = None

    def load(self) -> None:
        """Load the model and its float64 synthesis (they stay cached in aecodec.codec) by
        coding a small picture, once: the server does it as it starts, and a request that comes
        meanwhile waits for that load instead of starting a second one beside it."""
        with _LOADING:
            if self in _LOADED:
                return
            blank = np.full((64, 64, 3), 128, np.uint8)
            data = aec.compress(blank, 50, self.name, weights=self.weights)
            aec.decompress(data, weights=self.weights)
            _LOADED.add(self)


_LOADING = threading.Lock()
_LOADED: set[Model] = set()  # models whose load() is done, in aecodec.codec's caches


def check_request(codec: str, setting: float | None, size: int | None) -> CodecSpec:
    """The codec's spec, or RequestError saying what is wrong with the request."""
    if codec not in SPECS:
        raise RequestError(f"unknown codec {codec!r}; known codecs: {', '.join(SPECS)}")
    if codec not in available_codecs():
        raise RequestError(unavailable_reason(codec) or f"{codec} cannot run here")
    spec = SPECS[codec]
    if setting is not None and spec.setting is not None:
        low, high = spec.setting.low, spec.setting.high
        if not (math.isfinite(setting) and low <= setting <= high):
            raise RequestError(f"{spec.label} {spec.setting.name} must be from {low:g} to {high:g}")
    if size is not None and size <= 0:
        raise RequestError("the target size must be a positive number of bytes")
    return spec


def code(
    upload: Upload, image_id: str, codec: str, setting: float | None, size: int | None, model: Model
) -> Result:
    """One side of the comparison: the upload coded by `codec` at `setting`, or at the best
    setting whose file fits in `size` bytes, decoded again and measured against the original."""
    spec = check_request(codec, setting, size)
    picture = upload.picture
    if spec.setting is None:  # the original: the file as it came
        h, w = picture.rgb.shape[:2]
        return Result(image_id, codec, spec.label, None, None, upload.data, "", upload.png, w, h)
    if setting is None:
        setting = spec.setting.default
    if codec == "aec":
        result = _code_aec(picture, setting, size, model)
    else:
        result = _code_classic(picture, spec, setting, size)
    data, used, encode_s, decoded, decode_s, notes = result
    rgb = np.asarray(decoded.convert("RGB"))
    h, w = rgb.shape[:2]
    psnr = metrics.psnr(picture.rgb, rgb)
    ms_ssim = metrics.ms_ssim(picture.rgb, rgb)
    return Result(
        image=image_id,
        kind=codec,
        label=spec.label,
        setting=used,
        target=size,
        data=data,
        suffix=spec.suffix,
        png=_png(decoded),
        width=w,
        height=h,
        psnr=None if math.isinf(psnr) else psnr,
        ms_ssim=None if math.isnan(ms_ssim) else ms_ssim,
        encode_s=encode_s,
        decode_s=decode_s,
        warnings=notes,
    )


def _code_aec(picture: Picture, quality: float, size: int | None, model: Model) -> tuple:
    model.load()  # not in the timings: the server loads it once, as it starts
    start = time.perf_counter()
    coded = aec.compress_picture(
        picture, quality, model.name, weights=model.weights, size=size
    )  # fmt: skip
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    decoded = aec.decompress(coded.data, weights=model.weights)
    decode_s = time.perf_counter() - start
    return coded.data, coded.header.quality, encode_s, decoded, decode_s, coded.warnings


def _code_classic(picture: Picture, spec: CodecSpec, setting: float, size: int | None) -> tuple:
    classic = get_codec(spec.name)
    setting = round(setting)  # Pillow's encoders take whole numbers
    image = Image.fromarray(picture.rgb)
    notes = list(picture.warnings)
    if picture.alpha is not None:
        notes.append(f"{spec.label} is shown without the transparency (it is coded as RGB)")
    if size is not None:
        setting, note = _fit(lambda s: len(classic.encode(image, s)), spec.setting, size)
        notes += [note] if note else []
    start = time.perf_counter()
    data = classic.encode(image, setting)
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    decoded = classic.decode(data)
    decode_s = time.perf_counter() - start
    return data, setting, encode_s, decoded, decode_s, notes


def _fit(size_of: Callable[[float], int], setting: Setting, target: int) -> tuple[float, str]:
    """The whole-number setting of the largest file within `target` bytes, by bisection (file
    size is monotonic in the setting); with a note when no setting fits."""
    # Candidates ordered from the smallest file to the largest.
    candidates = list(range(math.ceil(setting.low), math.floor(setting.high) + 1))
    if not setting.grows:
        candidates.reverse()
    if size_of(candidates[0]) > target:
        note = f"no {setting.name} fits in {target:,} bytes: the smallest file is shown"
        return candidates[0], note
    low, high = 0, len(candidates) - 1  # candidates[low] fits; look for the last that does
    while low < high:
        middle = (low + high + 1) // 2
        if size_of(candidates[middle]) <= target:
            low = middle
        else:
            high = middle - 1
    return candidates[low], ""


def denoise(upload: Upload, image_id: str, sigma: float | None) -> Result:
    """The restore wing's denoiser on the upload (its colour planes)."""
    api = _restore("denoise")
    start = time.perf_counter()
    output = api.denoise(_pil(upload.picture), sigma=sigma)
    return _restored(upload, image_id, "denoise", output, time.perf_counter() - start)


def repair(upload: Upload, image_id: str, mask_png: bytes) -> Result:
    """The restore wing's repair of the pixels where the painted mask is (its alpha, or its
    light pixels when it has no alpha)."""
    api = _restore("repair")
    mask = read_mask(mask_png, upload.picture.rgb.shape[:2])
    start = time.perf_counter()
    output = api.repair(_pil(upload.picture), mask)
    return _restored(upload, image_id, "repair", output, time.perf_counter() - start)


def read_mask(data: bytes, shape: tuple[int, int]) -> np.ndarray:
    """A painted mask (PNG) as a bool array of the picture's shape, True where to repair."""
    try:
        with warnings.catch_warnings():  # the size is checked below, before any pixel is decoded
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Exception as error:  # anything Pillow raises on bytes that are not an image
        raise UnsupportedImage(f"the mask is not an image Pillow can read ({error})") from None
    with image:
        if image.size != (shape[1], shape[0]):
            width, height = image.size
            raise UnsupportedImage(
                f"the mask is {width}x{height}, the image {shape[1]}x{shape[0]}"
            )  # fmt: skip
        try:
            planes = np.asarray(image.convert("RGBA" if "A" in image.getbands() else "L"))
        except Exception as error:  # truncated or corrupt pixel data
            raise UnsupportedImage(f"the mask has corrupt image data ({error})") from None
    mask = planes[..., 3] > 0 if planes.ndim == 3 else planes > 127
    if not mask.any():
        raise RequestError("the mask is empty: paint over the pixels to repair")
    return mask


def _restored(upload: Upload, image_id: str, kind: str, output, seconds: float) -> Result:
    image = output if isinstance(output, Image.Image) else Image.fromarray(np.asarray(output))
    png = _png(image)
    w, h = image.size
    label = {"denoise": "Denoised", "repair": "Repaired"}[kind]
    return Result(image_id, kind, label, None, None, png, ".png", png, w, h, encode_s=seconds)


def _pil(picture: Picture) -> Image.Image:
    return to_pil(picture.rgb, picture.alpha, picture.layout)


def _restore(kind: str):
    if not _find(f"aecodec.restore.{kind}.api"):
        raise RequestError(f"{kind} is not installed in this aecodec")
    return importlib.import_module(f"aecodec.restore.{kind}.api")


def _find(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package that is missing
        return False


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=DISPLAY_PNG_LEVEL)
    return buffer.getvalue()


def download_name(upload_name: str, suffix: str, tag: str = "") -> str:
    """A safe file name for a download: the upload's stem, a tag, the suffix."""
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(upload_name).stem)
    return f"{stem.strip('.') or 'image'}{tag}{suffix}"

"""The codecs a benchmark can run: classic ones through Pillow, and aecodec itself.

Each codec is a name, a sweep of settings from low to high rate, a description of its exact
settings (written into the results), and a pair of functions: `encode(image, setting) -> bytes`,
`decode(bytes) -> RGB image`. Encoders that can use threads are pinned to one thread, because
libaom's output depends on the thread count (a benchmark must give the same bytes twice) and so
that every timing in a table means the same thing.
"""

import io
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, features

from aecodec.errors import AecodecError


class BenchmarkError(AecodecError):
    """An unknown or unavailable codec, or a folder with no images to benchmark."""


@dataclass(frozen=True)
class Codec:
    name: str
    settings: tuple[float, ...]  # from low to high rate
    description: str
    encode: Callable[[Image.Image, float], bytes]
    decode: Callable[[bytes], Image.Image]


def _pillow_decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB")


def _pillow_encoder(format: str, setting_name: str, **options) -> Callable:
    def encode(image: Image.Image, setting: float) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format=format, **{setting_name: setting}, **options)
        return buffer.getvalue()

    return encode


def _jpeg() -> Codec:
    settings = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
    return Codec(
        name="jpeg",
        settings=settings,
        description=(
            f"JPEG, Pillow {Image.__version__} (libjpeg-turbo {features.version('jpg')}): "
            f"4:2:0, optimize=True (optimal Huffman tables), quality in {list(settings)}"
        ),
        encode=_pillow_encoder("JPEG", "quality", subsampling="4:2:0", optimize=True),
        decode=_pillow_decode,
    )


def _webp() -> Codec:
    settings = (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
    return Codec(
        name="webp",
        settings=settings,
        description=(
            f"WebP, Pillow {Image.__version__} (libwebp {features.version('webp')}): lossy, "
            f"method=6 (slowest, best), quality in {list(settings)}"
        ),
        encode=_pillow_encoder("WEBP", "quality", method=6),
        decode=_pillow_decode,
    )


def _jp2() -> Codec:
    # OpenJPEG's "rates" are compression ratios against the raw 24-bit image: ratio r ~ 24/r bpp.
    settings = (192, 128, 96, 64, 48, 32, 24, 16, 12, 8)
    encode = _pillow_encoder(
        "JPEG2000", "quality_layers", quality_mode="rates", irreversible=True, mct=1, no_jp2=True
    )
    return Codec(
        name="jp2",
        settings=settings,
        description=(
            f"JPEG 2000, Pillow {Image.__version__} (OpenJPEG {features.version('jpg_2000')}): "
            "irreversible 9/7 wavelet, YCbCr colour transform (mct=1), raw codestream, one "
            f"quality layer, quality_mode='rates' with compression ratio in {list(settings)}"
        ),
        encode=lambda image, ratio: encode(image, [ratio]),
        decode=_pillow_decode,
    )


def _avif() -> Codec:
    settings = (10, 25, 40, 55, 70, 85)
    return Codec(
        name="avif",
        settings=settings,
        description=(
            f"AVIF, Pillow {Image.__version__} (libavif {features.version('avif')}, aom): "
            f"4:4:4, speed 4, max_threads=1, full range, quality in {list(settings)}"
        ),
        encode=_pillow_encoder("AVIF", "quality", subsampling="4:4:4", speed=4, max_threads=1),
        decode=_pillow_decode,
    )


def _jxl() -> Codec:
    from importlib.metadata import version

    import pillow_jxl  # noqa: F401  (registers the JXL format with Pillow)

    settings = (10, 20, 30, 40, 50, 60, 70, 80, 90)
    return Codec(
        name="jxl",
        settings=settings,
        description=(
            f"JPEG XL, pillow-jxl-plugin {version('pillow-jxl-plugin')} (libjxl): effort 7, "
            f"num_threads=1, quality in {list(settings)}"
        ),
        # lossless_jpeg=False: never take the JPEG-transcoding path, even for a JPEG input.
        encode=_pillow_encoder("JXL", "quality", effort=7, num_threads=1, lossless_jpeg=False),
        decode=_pillow_decode,
    )


def _aec(model: str | None = None, effort: int = 0) -> Codec:
    from importlib.metadata import PackageNotFoundError, version

    import aecodec  # late: the classic codecs must work while the learned one is unavailable

    try:
        release = version("aecodec")
    except PackageNotFoundError:  # run from a checkout that is not installed
        release = "(not installed)"
    shown = model or getattr(aecodec.zoo, "DEFAULT_MODEL", "default")
    # aec:NAME is an installed model; anything else is the path of a model's weights
    named, weights = aecodec.zoo.MODELS.name_or_path(model) if model else (None, None)
    settings = (0, 17, 33, 50, 67, 83, 100)
    efforts = {"effort": effort} if effort else {}  # the plain call stays the default's
    name = "aec" if model is None else f"aec:{model}"
    return Codec(
        name=f"{name}@{effort}" if effort else name,
        settings=settings,
        description=(
            f"aecodec {release}, model {shown}, effort {effort}, quality in {list(settings)}"
        ),
        encode=lambda image, quality: aecodec.compress(
            image, quality=quality, model=named, weights=weights, **efforts
        ),
        decode=lambda data: aecodec.decompress(data, weights=weights).convert("RGB"),
    )


_FACTORIES = {"jpeg": _jpeg, "webp": _webp, "jp2": _jp2, "avif": _avif, "jxl": _jxl, "aec": _aec}
CLASSIC = ("jpeg", "webp", "jp2", "avif", "jxl")
_PILLOW_FEATURE = {"webp": "webp", "jp2": "jpg_2000", "avif": "avif"}


def codec_names() -> list[str]:
    return list(_FACTORIES)


def unavailable_reason(name: str) -> str | None:
    """None if the codec can run here, else a sentence saying what is missing."""
    name, _, effort = name.partition("@")
    base = name.split(":")[0]
    if effort and (base != "aec" or not effort.isdigit() or not 0 <= int(effort) <= 9):
        return f"{name}@{effort}: only aec takes an effort, 0 to 9 (aec@6, aec:MODEL@6)"
    if base not in _FACTORIES:
        return f"unknown codec {name!r}; known codecs: {', '.join(_FACTORIES)}"
    if base in _PILLOW_FEATURE and not features.check(_PILLOW_FEATURE[base]):
        return f"{base}: this Pillow was built without {_PILLOW_FEATURE[base]} support"
    if base == "jxl":
        try:
            import pillow_jxl  # noqa: F401
        except ImportError:
            return (
                "jxl: the pillow-jxl-plugin package is not installed (pip install aecodec[bench])"
            )
    if base == "aec":
        try:
            import aecodec
        except ImportError as error:
            return f"aec: aecodec cannot be imported ({error})"
        if not hasattr(aecodec, "compress") or not hasattr(aecodec, "decompress"):
            return "aec: aecodec has no compress/decompress API yet"
    return None


def get_codec(name: str) -> Codec:
    """The codec called `name` ("jpeg", ..., "aec" or "aec:MODEL", either with "@EFFORT").

    Raises BenchmarkError, saying why, if it is unknown or cannot run here.
    """
    reason = unavailable_reason(name)
    if reason is not None:
        raise BenchmarkError(reason)
    spec, _, effort = name.partition("@")
    base, _, model = spec.partition(":")
    if model and base != "aec":
        raise BenchmarkError(f"only aec takes a model name, not {name!r}")
    return _aec(model or None, int(effort or 0)) if base == "aec" else _FACTORIES[base]()

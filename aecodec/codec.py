"""The public coding API: images in, `.aec` bytes out, and back.

compress: read the picture, pad it to the model's stride, run the analysis tile by tile, code the
latents (`Hyperprior.compress`, through the latent codec: aecodec.latent), store alpha losslessly
and the metadata as it came, wrap it all in the container.
decompress: the reverse; the container names the model and a hash of its weights, so a file is
only ever decoded by the exact weights that wrote it.
Tiny images (at most bitstream.STORED_MAX_PIXELS), where a model's file would cost more than
the pixels, are stored as their pixels instead: exact, and a few bytes (docs/format.md).
"""

import contextlib
import functools
import io
import math
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aecodec import bitstream
from aecodec.decoder.container import (
    check_model,
    corrupt_latents,
    from_stored,
    latent_payloads,
    picture,
    read_grid,
)
from aecodec.errors import BitstreamError, ModelError, OutOfMemory, TargetUnreachable
from aecodec.gains import synthesis_gain
from aecodec.image import Picture, check_pixels, read_picture
from aecodec.metrics import psnr
from aecodec.models import refine
from aecodec.models.hyperprior import (
    ANALYSIS_TILE,
    MARGIN_LATENT,
    MARGIN_PIXELS,
    SYNTHESIS_TILE,
    Hyperprior,
)
from aecodec.nn.synthesis64 import Float64Synthesis
from aecodec.nn.synthesis_int import IntegerSynthesis, gain_grid, grid_for
from aecodec.nn.tiling import tiled
from aecodec.registry import weights_key
from aecodec.zoo import DEFAULT_MODEL, LoadedModel, load_model

# The synthesis runs in integers (version 4 files) or float64 (earlier ones) so that the same
# symbols give the same pixels whatever the machine, thread count or convolution library: float32
# differences (~1e-6) would flip a rounding now and then.
TARGET_TOLERANCE = 0.03  # a size or bpp target is met when the file is within 3% below it
SMALLEST_CODED = 35 + 1 + 2 * 4  # bytes: the container, a 1-letter model name, 2 payloads' lengths


@dataclass
class Compressed:
    data: bytes
    header: bitstream.Header
    estimated_bits: float  # the model's own -log2 likelihood of the coded symbols
    warnings: list[str]


@functools.lru_cache(maxsize=4)
def cached_model(name: str, weights: str | None = None) -> LoadedModel:
    """load_model, remembered: the CLI codes many files with one model."""
    return load_model(name, weights=weights)


@functools.lru_cache(maxsize=4)
def cached_synthesis(name: str, weights: str | None = None) -> Float64Synthesis:
    """A float64 copy of the model's synthesis (the model itself stays float32): files before
    version 4."""
    return Float64Synthesis(cached_model(name, weights).model.g_s)


@functools.lru_cache(maxsize=4)
def cached_integer_synthesis(name: str, weights: str | None = None) -> IntegerSynthesis:
    """The model's synthesis in integers (version 4 files)."""
    return IntegerSynthesis(cached_model(name, weights).model.g_s)


def compress(
    image: str | Image.Image | np.ndarray,
    quality: float = 75,
    model: str | None = None,
    *,
    weights: str | Path | None = None,
    bpp: float | None = None,
    size: int | None = None,
    max_pixels: int | None = None,
    strip: bool = False,
    closest: bool = False,
    effort: int = 0,
) -> bytes:
    """An image (path, bytes of an image file, PIL image or array) as the bytes of an .aec file.

    `model` is a registry name (default DEFAULT_MODEL); `weights` the path of a model's
    .safetensors file instead. Give `bpp` (bits per pixel) or `size` (bytes) instead of
    `quality` to get the best file that fits that budget; TargetUnreachable if none does, unless
    `closest` (then the smallest file). Images over `max_pixels` (default
    image.DEFAULT_MAX_PIXELS) are refused before they are decoded. The image's ICC profile, EXIF
    and XMP travel in the file unless `strip`. `effort` 1 to 9 spends more encoding time on a
    smaller file for the same quality (models.refine); every effort's files decode alike."""
    picture = read_picture(image, max_pixels)
    return compress_picture(
        picture, quality, model, weights=weights, bpp=bpp, size=size, strip=strip,
        max_pixels=max_pixels, closest=closest, effort=effort,
    ).data  # fmt: skip


def compress_picture(
    picture: Picture,
    quality: float = 75,
    model: str | None = None,
    *,
    weights: str | Path | None = None,
    bpp: float | None = None,
    size: int | None = None,
    strip: bool = False,
    max_pixels: int | None = None,
    closest: bool = False,
    effort: int = 0,
) -> Compressed:
    """compress() of a Picture, with the header, the model's estimate and the warnings."""
    steps = refine.steps_for(effort)  # ValueError outside 0..9
    h, w = picture.rgb.shape[:2]
    check_pixels(w, h, "the image", max_pixels, Hyperprior.stride)  # the area the model works on
    block = b"" if strip else bitstream.pack_metadata(picture.metadata)  # b"": flags stay 0
    if bpp is None and size is None and not 0 <= quality <= 100:
        raise ValueError(f"quality must be between 0 and 100, not {quality}")
    target = (
        None if bpp is None and size is None else (size if size is not None else bpp * h * w / 8)
    )
    if target is not None and not target > 0:
        raise ValueError("the target size must be positive")
    stored = _stored(picture, block) if h * w <= bitstream.STORED_MAX_PIXELS else None
    if stored and (len(stored.data) <= SMALLEST_CODED or (target and len(stored.data) <= target)):
        return stored  # exact, and smaller than any coded file or within the budget
    loaded = cached_model(model or DEFAULT_MODEL, weights_key(weights))
    if not bitstream.MODEL_NAME.fullmatch(loaded.name):
        raise ModelError(
            f"a file cannot name the model '{loaded.name}': rename its weights and card to "
            "letters, digits, '.', '_' and '-' (at most 64)"
        )
    y = analyse(loaded.model, picture.rgb)
    x = torch.from_numpy(picture.rgb).permute(2, 0, 1)[None].float().div(255) if steps else None

    plain_files: dict[float, Compressed] = {}  # a target's second search retraces the first's

    def encode(q: float, steps: int = 0) -> Compressed:
        if steps:
            return _encode(loaded, picture, y, q, block, x, steps)
        if q not in plain_files:
            plain_files[q] = _encode(loaded, picture, y, q, block)
        return plain_files[q]

    if target is not None:
        # The quality is searched with the plain encoder (one refinement costs as much as the
        # whole search), then refined.
        fitted = _fit(encode, target, closest)
        return _refined_within(encode, fitted, target, steps, picture, weights) if steps else fitted
    coded = encode(bitstream.quantize_quality(quality), steps)
    return stored if stored and len(stored.data) <= len(coded.data) else coded


def _refined_within(
    encode: Callable[[float, int], Compressed],
    fitted: Compressed,
    target: float,
    steps: int,
    picture: Picture,
    weights: str | Path | None,
) -> Compressed:
    """The refined file within `target` bytes, or the plain search's `fitted` where that is
    as close to the picture. Refinement makes the file at a quality smaller and a little less
    faithful: the bytes it saves at the fitted quality buy a higher one, found by the plain
    search for the budget grown by that saving, and refined in turn."""
    plain = fitted.header.quality
    if len(fitted.data) > target or plain >= 100:
        return fitted
    saving = len(encode(plain, steps).data) / len(fitted.data)
    if saving >= 1:  # nothing saved: no higher quality to buy
        return fitted
    higher = _fit(encode, target / saving).header.quality
    if higher <= plain:
        return fitted
    spent = encode(higher, steps)
    if len(spent.data) > target:
        return fitted
    closer = _psnr(spent, picture, weights) > _psnr(fitted, picture, weights)
    return spent if closer else fitted


def _psnr(compressed: Compressed, picture: Picture, weights: str | Path | None) -> float:
    """PSNR of a file's decoded pixels against the picture's."""
    decoded = np.asarray(decompress(compressed.data, weights=weights).convert("RGB"))
    return psnr(decoded, picture.rgb)


def _stored(picture: Picture, block: bytes) -> Compressed:
    """The picture's own pixels, exactly (bitstream's stored layout)."""
    h, w = picture.rgb.shape[:2]
    planes = [picture.rgb if picture.layout.startswith("RGB") else picture.rgb[..., :1]]
    if picture.alpha is not None:
        planes.append(picture.alpha[..., None])
    pixels = np.ascontiguousarray(np.concatenate(planes, axis=2)).tobytes()
    header = bitstream.stored_header(w, h, picture.layout, bool(block))
    data = bitstream.pack(header, [pixels, block] if block else [pixels])
    return Compressed(data, header, 8.0 * len(data), list(picture.warnings))


def analyse(net: Hyperprior, rgb: np.ndarray) -> torch.Tensor:
    """The latent y before gains: the expensive part, shared by every quality tried."""
    h, w = rgb.shape[:2]
    # padded and tiled as 8-bit pixels, each tile made float as it comes: a 24 MP photo in
    # float32 alone is 290 MB
    padded = np.pad(rgb, ((0, _pad(h, net.stride)), (0, _pad(w, net.stride)), (0, 0)), "edge")
    x = torch.from_numpy(padded).permute(2, 0, 1)[None]
    with torch.no_grad():
        return tiled(
            lambda tile: net.g_a(tile.contiguous().float().div_(255)),
            x, 1 / net.y_stride, ANALYSIS_TILE, MARGIN_PIXELS,
        )  # fmt: skip


def _encode(
    loaded: LoadedModel,
    picture: Picture,
    y: torch.Tensor,
    quality: float,
    block: bytes,
    x: torch.Tensor | None = None,
    steps: int = 0,
) -> Compressed:
    """The file of y at a quality; with `steps`, of y refined for the picture x too, whichever
    costs less (models.refine)."""
    coded = refine.compress(loaded.model, x, y, quality, steps)  # nearest tables
    net = loaded.model
    grid = grid_for(net.g_s, coded.y_hat * _inverse_gain(net, quality).float()[:, None, None])
    payloads = [struct.pack(f">{len(grid)}b", *grid), *coded.strings]
    if picture.alpha is not None:
        payloads.append(_png(picture.alpha))
    if block:
        payloads.append(block)
    h, w = picture.rgb.shape[:2]
    fields = (loaded.name, loaded.weights_hash, quality, w, h, picture.layout)
    header = bitstream.Header(*fields, bitstream.FORMAT_VERSION, has_metadata=bool(block))
    data = bitstream.pack(header, payloads)
    return Compressed(data, header, coded.estimated_bits, list(picture.warnings))


def _fit(encode, target: float, closest: bool = False) -> Compressed:
    """The highest quality whose file fits in `target` bytes, by bisection (size grows with
    quality); it stops once the file is within TARGET_TOLERANCE below the target. When even
    quality 0 is too large: TargetUnreachable, or with `closest` that file and a warning."""
    best, top = encode(0.0), encode(100.0)
    if len(best.data) > target:
        message = (
            f"cannot reach {target:,.0f} bytes: the smallest file (quality 0) is "
            f"{len(best.data):,} bytes"
        )
        if not closest:
            raise TargetUnreachable(message)
        best.warnings.append(message)
        return best
    if len(top.data) <= target:
        if len(top.data) < (1 - TARGET_TOLERANCE) * target:
            top.warnings.append(
                f"quality 100 already fits: {len(top.data):,} bytes for a target of {target:,.0f}"
            )
        return top
    low, high = 0.0, 100.0
    while high - low > 0.011 and len(best.data) < (1 - TARGET_TOLERANCE) * target:
        middle = bitstream.quantize_quality((low + high) / 2)
        attempt = encode(middle)
        if len(attempt.data) <= target:
            low, best = middle, attempt
        else:
            high = middle
    return best


def decompress(
    data: bytes,
    *,
    weights: str | Path | None = None,
    exact: bool = True,
    max_pixels: int | None = None,
    strip: bool = False,
) -> Image.Image:
    """The bytes of an .aec file as a PIL image of the layout that was compressed.

    The file names its model, which must be installed; `weights` gives a model's .safetensors
    file instead (its hash must match the file's). Files of format version 5 (all that this
    aecodec writes) and 4 decode through the integer synthesis, the same pixels on every
    machine (version 4 with gains from torch's float32 pow: see aecodec.gains);
    for files of versions 1 and 2, `exact=False` runs their synthesis in float32 instead of
    float64, about twice as fast, but a pixel may then differ by one level between machines or
    thread counts (about one value in 100,000). Files
    that claim more than `max_pixels` (default image.DEFAULT_MAX_PIXELS) are refused from their
    header, before any work. The image's `.info` holds the file's ICC profile, EXIF and XMP
    (`icc_profile`, `exif`, `xmp`) unless `strip`. A file of stored pixels needs no model."""
    header, payloads = bitstream.unpack(data)
    if header.stored:
        check_pixels(header.width, header.height, "the file", max_pixels)
        return from_stored(header, payloads, strip)
    check_pixels(header.width, header.height, "the file", max_pixels, Hyperprior.stride)
    key = (header.model, weights_key(weights))
    grid = read_grid(header, payloads, len(cached_model(*key).model.g_s))
    header, payloads, y_hat = decode_latents(data, weights, max_pixels)
    net = cached_model(*key).model
    with _out_of_memory(header):
        rgb = _synthesis(net, key, header, y_hat, exact, grid)
    rgb = rgb[0, :, : header.height, : header.width].permute(1, 2, 0).numpy()
    return picture(header, payloads, rgb, strip)


def _synthesis(
    net: Hyperprior,
    key: tuple,
    header: bitstream.Header,
    y_hat: torch.Tensor,
    exact: bool,
    grid: tuple[int, ...],
) -> torch.Tensor:
    """The gained y_hat's pixels (1, 3, H, W) as uint8, by the synthesis the file asks for."""
    with torch.no_grad():
        if grid:  # exact, and faster than float32
            synthesis = cached_integer_synthesis(*key)
            inverse_gain = _integer_gain(net, header)
            return tiled(
                lambda y: synthesis(y, inverse_gain, grid), y_hat, net.y_stride, SYNTHESIS_TILE,
                MARGIN_LATENT,
            )  # fmt: skip
        g_s = cached_synthesis(*key) if exact else net.g_s  # Float64Synthesis takes float32
        inverse_gain = net.gains(header.quality)[1]
        x_hat = tiled(g_s, y_hat * inverse_gain, net.y_stride, SYNTHESIS_TILE, MARGIN_LATENT)
    return x_hat.clamp(0, 1).mul(255).round().to(torch.uint8)


def _integer_gain(net: Hyperprior, header: bitstream.Header) -> torch.Tensor:
    """The integer synthesis's inverse gain (M,) float64 for a file: mixed in float64 (version
    5, aecodec.gains), or from torch's float32 mix (version 4)."""
    if header.format_version >= bitstream.GAIN_VERSION:
        return _inverse_gain(net, header.quality)
    return gain_grid(net.gains(header.quality)[1])


def _inverse_gain(net: Hyperprior, quality: float) -> torch.Tensor:
    """The synthesis's inverse gain (M,) float64 for a quality, as files of version 5 have it."""
    return torch.from_numpy(synthesis_gain(net.inverse_gain.detach().numpy(), quality))


def decode_latents(
    data: bytes, weights: str | Path | None = None, max_pixels: int | None = None
) -> tuple[bitstream.Header, list[bytes], torch.Tensor]:
    """Check an .aec file against its model and decode its latents exactly: the header, the
    payloads, and the gained y_hat (the synthesis input is y_hat times the inverse gain of the
    file's quality)."""
    header, payloads = bitstream.unpack(data)
    if header.stored:
        raise BitstreamError("the file stores its pixels; it has no latents to decode")
    check_pixels(header.width, header.height, "the file", max_pixels, Hyperprior.stride)
    loaded = cached_model(header.model, weights_key(weights))
    check_model(header, loaded.weights_hash)
    net = loaded.model
    strings = latent_payloads(header, payloads, net.latent_codec.payloads)
    z_shape = (math.ceil(header.height / net.stride), math.ceil(header.width / net.stride))
    nearest = header.format_version >= 2  # format 1 coded y with the next wider tables
    with _out_of_memory(header), corrupt_latents():
        y_hat = net.latent_codec.decompress(strings, z_shape, nearest, header.format_version)
    return header, payloads, y_hat


@contextlib.contextmanager
def _out_of_memory(header: bitstream.Header) -> Iterator[None]:
    """Running out of memory is the machine's limit, not the file's fault: say so."""
    try:
        yield
    except (MemoryError, RuntimeError) as error:
        if isinstance(error, RuntimeError) and "alloc" not in str(error):
            raise
        raise OutOfMemory(
            f"not enough memory to decode {header.width}x{header.height} pixels"
        ) from None


def _pad(size: int, stride: int) -> int:
    return -size % stride


def _png(plane: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(plane, "L").save(buffer, "PNG", optimize=True)
    return buffer.getvalue()

"""The .aec container: one compressed image, its header, and two checksums (see docs/format.md).

Pure bytes: nothing here knows about torch, numpy or what the payloads mean. `pack` writes a
file, `unpack` reads one and turns every malformed input into a `BitstreamError` with one
sentence, `describe` summarises a file for `aecodec info`. The picture's metadata (ICC profile,
EXIF, XMP) travels as an optional last payload, `pack_metadata`'s block, announced by flag bit 0.

A tiny image, where a model's file would cost more than the pixels themselves, is stored as its
pixels instead (version 3, flag bit 1): a 14-byte head, the pixels (raw or deflated), the
metadata block if any, and the file CRC; a 1x1 RGB image is 21 bytes, exact.

Two CRC-32s guard the file. The header CRC covers the header (up to and including the payload
length table), so the lengths are trusted only once it matches: a short file is then surely
truncated and a corrupted length field is surely corruption. The file CRC, always the last four
bytes, covers everything before it, so any single-byte error anywhere is caught whatever the
parser made of the damaged bytes.
"""

import math
import numbers
import re
import struct
import zlib
from dataclasses import dataclass

from aecodec.errors import BitstreamError

MAGIC = b"\x89AEC"  # a non-ASCII first byte, as in PNG, so text tools never take it for text
FORMAT_VERSION = 6  # the newest version this aecodec reads (and all before it)
FLOAT_VERSION = 2  # a file decoded by the float64 synthesis (version 1 too)
STORED_VERSION = 3  # the first version with stored pixels (flag bit 1)
INTEGER_VERSION = 4  # decoded by the integer synthesis on the grid of its first payload
GRID_RANGE = (-40, 8)  # a synthesis grid's exponents (version 4 on): steps from 2^-40 to 2^8
GAIN_VERSION = 5  # as 4, with the synthesis's gains mixed in float64 (aecodec.gains)
TILE_VERSION = 6  # as 5, with the latent coded tile by tile (latent_tiles)
LATENT_TILE = 32  # hyper-latent samples per side of a tile: 128 of y, 2048 pixels
LAYOUTS = ("L", "LA", "RGB", "RGBA")  # the layout code is the index in this tuple
HASH_SIZE = 8  # first bytes of the SHA-256 of the model's weights file
MAX_SIDE = 1 << 20
MAX_PIXELS = 1 << 30
MAX_PAYLOADS = 255
QUALITY_SCALE = 100  # quality is stored as round(quality * 100), so its step is 0.01
FLAG_METADATA = 0x01  # flags bit 0: the last payload is a metadata block
FLAG_STORED = 0x02  # flags bit 1 (version 3): the pixels themselves, no model (tiny images)
STORED_MAX_PIXELS = 4096  # the largest image that may be stored (at most 16 KiB of pixels)
STORED_RAW, STORED_DEFLATE = 0, 1  # how stored pixels are kept: as they are, or deflated
# Chunk tags in the order a block holds them, each at most once, by Metadata field.
METADATA_TAGS = {"icc_profile": b"ICCP", "exif": b"EXIF", "xmp": b"XMP "}
MAX_CHUNK = 16 << 20  # bytes; far above real profiles and EXIF, and bounds what a reader holds
# A model is named by its registry name only, never a path: no separators, no leading dot.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

_FIXED = struct.Struct(">8sHIIBB")  # weights hash, quality x 100, width, height, layout, k
_STORED = struct.Struct(">HHBBH")  # width, height, layout, pixel coding, pixel data length
_U32 = struct.Struct(">I")


@dataclass(frozen=True)
class Header:
    """Everything a decoder needs besides the payloads; a Header that exists is valid."""

    model: str  # registry name of the model, e.g. "hyperprior-vr"
    weights_hash: bytes  # HASH_SIZE bytes identifying the exact weights
    quality: float  # 0..100 in steps of 0.01: use quantize_quality() before encoding
    width: int
    height: int
    layout: str  # one of LAYOUTS
    # 6: as 5, the latent in tiles; 5: as 4, the gains mixed in float64; 4: the integer
    # synthesis, on the grid in the first payload; 2: the float64 synthesis;
    # 1: as 2, but y's tables are the next wider, not the nearest to each scale (docs/format.md)
    format_version: int = FLOAT_VERSION
    has_metadata: bool = False  # the last payload is a metadata block (pack_metadata)
    # The pixels themselves travel instead of a model's code (`stored_header`); then the model
    # is "" and the hash b"", and the first payload is the planes of `layout`, interleaved.
    stored: bool = False

    def __post_init__(self):
        # Normalise friendly types (numpy ints for sizes, a bytearray hash) before checking.
        for attr in ("width", "height"):
            value = getattr(self, attr)
            if isinstance(value, numbers.Integral) and not isinstance(value, bool):
                object.__setattr__(self, attr, int(value))
        if isinstance(self.weights_hash, bytearray | memoryview):
            object.__setattr__(self, "weights_hash", bytes(self.weights_hash))
        if isinstance(self.quality, numbers.Real) and not isinstance(self.quality, bool):
            object.__setattr__(self, "quality", float(self.quality))
        problem = _header_problem(self)
        if problem:
            raise ValueError(problem)

    @property
    def has_alpha(self) -> bool:
        """Whether the image has an alpha plane (for a coded file, its last payload but the
        metadata; a stored file keeps it among the pixels)."""
        return self.layout in ("LA", "RGBA")


def latent_tiles(height: int, width: int, version: int) -> list[tuple[slice, slice]]:
    """The tiles of a hyper-latent of height x width samples in coding order, row by row: squares
    of LATENT_TILE samples (smaller at the right and bottom edges), or the whole hyper-latent in
    files before TILE_VERSION. Each tile of z and of y (4 samples of y per sample of z) is coded
    as if it were an image of its own, so that coding holds one tile's arrays at a time."""
    if version < TILE_VERSION:
        return [(slice(0, height), slice(0, width))]
    return [
        (slice(top, min(top + LATENT_TILE, height)), slice(left, min(left + LATENT_TILE, width)))
        for top in range(0, height, LATENT_TILE)
        for left in range(0, width, LATENT_TILE)
    ]


def stored_header(width: int, height: int, layout: str, has_metadata: bool = False) -> Header:
    """The header of a file that stores an image's pixels exactly, without a model."""
    return Header("", b"", 100.0, width, height, layout, STORED_VERSION, has_metadata, True)


@dataclass(frozen=True)
class Metadata:
    """What describes the picture besides its pixels, each as opaque bytes or None if absent."""

    icc_profile: bytes | None = None  # an ICC colour profile, as embedded in PNG or JPEG
    exif: bytes | None = None  # EXIF as a TIFF structure ("II*\0" or "MM\0*"), no "Exif\0\0"
    xmp: bytes | None = None  # an XMP packet (UTF-8 XML)

    def __post_init__(self):
        for name in METADATA_TAGS:
            value = getattr(self, name)
            if isinstance(value, bytearray | memoryview):
                value = bytes(value)
            if value is not None and not isinstance(value, bytes):
                kind = type(value).__name__
                raise TypeError(f"Metadata.{name} must be bytes or None, not {kind}")
            # Empty data is no data: one way to say "absent" keeps files canonical.
            object.__setattr__(self, name, value or None)


def pack_metadata(metadata: Metadata) -> bytes:
    """The metadata block for a file's last payload, or b"" when there is nothing to store."""
    chunks = []
    for name, tag in METADATA_TAGS.items():
        value = getattr(metadata, name)
        if value is None:
            continue
        if len(value) > MAX_CHUNK:
            raise ValueError(
                f"the {tag.decode().strip()} metadata has {len(value):,} bytes; a file holds at "
                f"most {MAX_CHUNK:,} per chunk; compress with --strip (strip=True) to leave it out"
            )
        chunks += [tag, _U32.pack(len(value)), value]
    return b"".join(chunks)


def unpack_metadata(block: bytes) -> Metadata:
    """The Metadata in a block; BitstreamError for a block pack_metadata could not have written."""
    block = memoryview(block).tobytes()
    if not block:
        raise BitstreamError("the metadata block is empty although the flags announce one")
    names = {tag: name for name, tag in METADATA_TAGS.items()}
    order, found, start, previous = list(METADATA_TAGS.values()), {}, 0, -1
    while start < len(block):
        if len(block) - start < 8:
            raise BitstreamError("the metadata block ends inside a chunk's tag and length")
        tag, length = block[start : start + 4], _U32.unpack_from(block, start + 4)[0]
        if tag not in names:
            known = ", ".join(t.decode().strip() for t in order)
            raise BitstreamError(f"unknown metadata chunk {tag!r} (known: {known})")
        label = tag.decode().strip()
        if order.index(tag) <= previous:
            raise BitstreamError(
                f"metadata chunk {label} is repeated or out of order "
                "(chunks come as ICCP, EXIF, XMP, each at most once)"
            )
        if not 1 <= length <= MAX_CHUNK:
            raise BitstreamError(f"metadata chunk {label} has {length:,} bytes, not 1..{MAX_CHUNK}")
        previous, start = order.index(tag), start + 8
        if length > len(block) - start:
            raise BitstreamError(
                f"metadata chunk {label} claims {length:,} bytes but the block has "
                f"{len(block) - start:,} left"
            )
        found[names[tag]] = block[start : start + length]
        start += length
    return Metadata(**found)


def quantize_quality(quality: float) -> float:
    """The nearest quality a file can store. Encode with this value, not the raw one: the decoder
    only ever sees the stored quality and must derive the same gains as the encoder did."""
    return round(float(quality) * QUALITY_SCALE) / QUALITY_SCALE


def pack(header: Header, payloads: list[bytes]) -> bytes:
    """The complete .aec file for a header and its payloads."""
    if not isinstance(header, Header):
        raise TypeError(f"pack() needs a Header, got {type(header).__name__}")
    if len(payloads) > MAX_PAYLOADS:
        raise ValueError(f"{len(payloads)} payloads; a file holds at most {MAX_PAYLOADS}")
    payloads = [bytes(p) for p in payloads]
    if header.has_metadata:
        try:
            unpack_metadata(payloads[-1] if payloads else b"")
        except BitstreamError as error:
            raise ValueError(f"has_metadata needs a metadata block last: {error}") from None
    if header.stored:
        return _pack_stored(header, payloads)
    for i, payload in enumerate(payloads):
        if len(payload) >= 1 << 32:
            raise ValueError(f"payload {i} has {len(payload)} bytes; at most 2**32 - 1 fit")
    name = header.model.encode("utf-8")
    head = b"".join(
        [
            MAGIC,
            bytes([header.format_version, FLAG_METADATA * header.has_metadata, len(name)]),
            name,
            _FIXED.pack(
                header.weights_hash,
                round(header.quality * QUALITY_SCALE),
                header.width,
                header.height,
                LAYOUTS.index(header.layout),
                len(payloads),
            ),
            *(_U32.pack(len(p)) for p in payloads),
        ]
    )
    body = head + _U32.pack(zlib.crc32(head)) + b"".join(payloads)
    return body + _U32.pack(zlib.crc32(body))


def unpack(data: bytes) -> tuple[Header, list[bytes]]:
    """Header and payloads of an .aec file; BitstreamError for anything that is not a valid one.
    A stored file's first payload is its pixels, inflated and checked against the header."""
    data = memoryview(data).tobytes()  # any bytes-like object; bytes(5) would be five zeros
    _check_magic_and_version(data)
    if data[4] >= STORED_VERSION and len(data) > 5 and data[5] & FLAG_STORED:
        return _unpack_stored(data)
    fields, lengths, header_size = _read_header(data)
    stored = _U32.unpack_from(data, header_size - 4)[0]
    if zlib.crc32(data[: header_size - 4]) != stored:
        raise BitstreamError("checksum mismatch: the file is corrupted (in the header)")
    header = _decode_fields(*fields)
    expected = header_size + sum(lengths) + 4
    if len(data) < expected:
        raise BitstreamError(f"truncated .aec file: it has {len(data)} of its {expected} bytes")
    if len(data) > expected:
        extra = len(data) - expected
        raise BitstreamError(f"{extra} unexpected bytes after the end of the .aec data")
    if zlib.crc32(data[:-4]) != _U32.unpack_from(data, len(data) - 4)[0]:
        raise BitstreamError("checksum mismatch: the file is corrupted")
    payloads, start = [], header_size
    for length in lengths:
        payloads.append(data[start : start + length])
        start += length
    if header.has_metadata:
        unpack_metadata(payloads[-1] if payloads else b"")  # what unpacks is valid throughout
    return header, payloads


def describe(header: Header, payloads: list[bytes], total_size: int) -> dict:
    """Every header field and the sizes that matter, in display order, for `aecodec info`; a
    stored file (`stored`: its pixels, no model) has `model` None and no payload fields."""
    if header.stored:
        return {
            "format_version": header.format_version,
            "stored": True,
            "model": None,
            "width": header.width,
            "height": header.height,
            "layout": header.layout,
            "pixel_bytes": len(payloads[0]),
            "metadata": _describe_metadata(payloads[-1]) if header.has_metadata else "none",
            "total_bytes": total_size,
            "bits_per_pixel": total_size * 8 / (header.width * header.height),
        }
    payload_bytes = sum(len(p) for p in payloads)
    return {
        "format_version": header.format_version,
        "stored": False,
        "model": header.model,
        "weights_hash": header.weights_hash.hex(),
        "quality": header.quality,
        "width": header.width,
        "height": header.height,
        "layout": header.layout,
        "synthesis": "integer" if header.format_version >= INTEGER_VERSION else "float64",
        "payload_sizes": [len(p) for p in payloads],
        "payload_bytes": payload_bytes,
        "metadata": _describe_metadata(payloads[-1]) if header.has_metadata else "none",
        "overhead_bytes": total_size - payload_bytes,
        "total_bytes": total_size,
        "bits_per_pixel": total_size * 8 / (header.width * header.height),
    }


def _describe_metadata(block: bytes) -> str:
    """'ICCP 3,144 bytes, EXIF 212 bytes': the chunks a file carries, in file order."""
    metadata = unpack_metadata(block)
    return ", ".join(
        f"{tag.decode().strip()} {len(getattr(metadata, name)):,} bytes"
        for name, tag in METADATA_TAGS.items()
        if getattr(metadata, name) is not None
    )


def _check_magic_and_version(data: bytes) -> None:
    # Magic and version sit at the same offsets in every version, so they are read before any
    # checksum: a newer file may checksum differently, and it must still say "upgrade".
    if not data:
        raise BitstreamError("empty file: there is no .aec data in it")
    if len(data) < len(MAGIC) and MAGIC.startswith(data):
        raise BitstreamError(f"truncated .aec file: it ends after {len(data)} bytes")
    if data[: len(MAGIC)] != MAGIC:
        raise BitstreamError("not an .aec file (wrong magic bytes)")
    if len(data) == len(MAGIC):
        raise BitstreamError("truncated .aec file: it ends before the format version")
    version = data[len(MAGIC)]
    if version > FORMAT_VERSION:
        raise BitstreamError(
            f"file format version {version} is newer than this aecodec "
            f"(reads up to {FORMAT_VERSION}); upgrade aecodec"
        )
    if version < 1:
        raise BitstreamError(
            f"unknown file format version {version} (this aecodec reads 1 to {FORMAT_VERSION})"
        )


def _read_header(data: bytes) -> tuple[tuple, list[int], int]:
    """Raw header fields, payload lengths and header size (header CRC included), unchecked."""

    def need(end: int, what: str) -> None:
        if len(data) < end:
            raise BitstreamError(f"truncated .aec file: it ends inside the header ({what})")

    need(7, "flags and name length")
    version, flags, n = data[4], data[5], data[6]
    need(7 + n, "model name")
    name = data[7 : 7 + n]
    need(7 + n + _FIXED.size, "image fields")
    weights_hash, quality, width, height, layout, k = _FIXED.unpack_from(data, 7 + n)
    table = 7 + n + _FIXED.size
    need(table + 4 * k + 4, "payload lengths")
    lengths = [_U32.unpack_from(data, table + 4 * i)[0] for i in range(k)]
    fields = (version, flags, name, weights_hash, quality, width, height, layout)
    return fields, lengths, table + 4 * k + 4


def _decode_fields(version, flags, name, weights_hash, quality, width, height, layout) -> Header:
    """The Header, once the header CRC has vouched that these bytes are what the writer wrote."""
    if flags & ~FLAG_METADATA:  # a stored file (bit 1, version 3) never gets here
        defined = "bit 0 (metadata)" if version < STORED_VERSION else "bits 0 and 1 (stored)"
        raise BitstreamError(
            f"flags byte is {flags:#04x} but version {version} defines only {defined}; "
            "the file was written by another program or a newer aecodec"
        )
    try:
        model = name.decode("utf-8")
    except UnicodeDecodeError:
        raise BitstreamError("the model name in the file is not valid UTF-8") from None
    if layout >= len(LAYOUTS):
        known = ", ".join(f"{code}={text}" for code, text in enumerate(LAYOUTS))
        raise BitstreamError(f"unknown pixel layout code {layout} (known: {known})")
    if quality > 100 * QUALITY_SCALE:
        raise BitstreamError(f"quality field is {quality}, above the maximum of 10000")
    try:
        quality = quality / QUALITY_SCALE
        has_metadata = bool(flags & FLAG_METADATA)
        return Header(
            model, weights_hash, quality, width, height, LAYOUTS[layout], version, has_metadata
        )
    except ValueError as error:
        raise BitstreamError(f"invalid header: {error}") from None


def _header_problem(h: Header) -> str | None:
    """What is wrong with a header, in one sentence, or None."""
    if h.stored is not False:
        return _stored_problem(h)
    if not isinstance(h.model, str) or not MODEL_NAME.fullmatch(h.model):
        # A registry name: the decoder looks it up among installed models, never opens it as a
        # path, and `aecodec info` can print it without it driving the terminal.
        return (
            f"model name {h.model!r} is not a registry name (1 to 64 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit)"
        )
    if not isinstance(h.weights_hash, bytes) or len(h.weights_hash) != HASH_SIZE:
        return f"weights hash must be {HASH_SIZE} bytes, got {h.weights_hash!r}"
    if not isinstance(h.quality, float) or not (math.isfinite(h.quality) and 0 <= h.quality <= 100):
        return f"quality {h.quality} is outside 0..100"
    if quantize_quality(h.quality) != h.quality:
        return f"quality {h.quality} is not a multiple of 0.01; pass it through quantize_quality()"
    for side in (h.width, h.height):
        if not isinstance(side, int) or isinstance(side, bool) or not 1 <= side <= MAX_SIDE:
            return f"image size {h.width}x{h.height} is invalid: each side must be 1..{MAX_SIDE}"
    if h.width * h.height > MAX_PIXELS:
        return f"image size {h.width}x{h.height} is over the limit of {MAX_PIXELS} pixels"
    if h.layout not in LAYOUTS:
        return f"layout {h.layout!r} is not one of {', '.join(LAYOUTS)}"
    if h.format_version not in range(1, FORMAT_VERSION + 1):
        return f"format version {h.format_version} is not one of 1..{FORMAT_VERSION}"
    if not isinstance(h.has_metadata, bool):
        return f"has_metadata must be True or False, got {h.has_metadata!r}"
    return None


def _stored_problem(h: Header) -> str | None:
    if h.stored is not True:
        return f"stored must be True or False, got {h.stored!r}"
    if (h.model, h.weights_hash, h.quality) != ("", b"", 100.0):
        return "a stored image names no model and no weights hash, and its quality is 100"
    if h.format_version < STORED_VERSION or h.format_version > FORMAT_VERSION:
        return f"stored pixels need format version {STORED_VERSION}, not {h.format_version}"
    if h.layout not in LAYOUTS:
        return f"layout {h.layout!r} is not one of {', '.join(LAYOUTS)}"
    if not isinstance(h.has_metadata, bool):
        return f"has_metadata must be True or False, got {h.has_metadata!r}"
    for side in (h.width, h.height):
        if not isinstance(side, int) or isinstance(side, bool) or side < 1:
            return f"image size {h.width}x{h.height} is invalid: each side must be at least 1"
    if h.width * h.height > STORED_MAX_PIXELS:
        return (
            f"image size {h.width}x{h.height} is over the {STORED_MAX_PIXELS} pixels that may "
            "be stored"
        )
    return None


def _pack_stored(header: Header, payloads: list[bytes]) -> bytes:
    """The stored layout (docs/format.md): head, pixels (deflated when that is shorter),
    metadata block, file CRC."""
    pixels, *rest = payloads or [b""]
    expected = header.width * header.height * len(header.layout)
    if len(pixels) != expected or len(rest) != header.has_metadata:
        raise ValueError(
            f"a stored {header.width}x{header.height} {header.layout} image takes its "
            f"{expected} bytes of pixels{' and the metadata block' * header.has_metadata}"
        )
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = packer.compress(pixels) + packer.flush()
    coding, body = (
        (STORED_DEFLATE, deflated) if len(deflated) < len(pixels) else (STORED_RAW, pixels)
    )
    flags = FLAG_STORED | FLAG_METADATA * header.has_metadata
    fields = (header.width, header.height, LAYOUTS.index(header.layout), coding, len(body))
    head = MAGIC + bytes([header.format_version, flags]) + _STORED.pack(*fields)
    metadata = [_U32.pack(len(rest[0])), rest[0]] if rest else []
    body = b"".join([head, *metadata[:1], body, *metadata[1:]])
    return body + _U32.pack(zlib.crc32(body))


def _unpack_stored(data: bytes) -> tuple[Header, list[bytes]]:
    """Header and [pixels (+ metadata block)] of a stored file: sizes, then the file CRC, then
    the fields, then the pixels inflated to exactly the size the header gives."""
    has_metadata = bool(data[5] & FLAG_METADATA)
    start = 6 + _STORED.size + 4 * has_metadata
    if len(data) < start:
        raise BitstreamError("truncated .aec file: it ends inside the header (stored image)")
    width, height, layout, coding, length = _STORED.unpack_from(data, 6)
    meta_length = _U32.unpack_from(data, 6 + _STORED.size)[0] if has_metadata else 0
    expected = start + length + meta_length + 4
    if len(data) < expected:
        raise BitstreamError(f"truncated .aec file: it has {len(data)} of its {expected} bytes")
    if len(data) > expected:
        raise BitstreamError(
            f"{len(data) - expected} unexpected bytes after the end of the .aec data"
        )
    if zlib.crc32(data[:-4]) != _U32.unpack_from(data, len(data) - 4)[0]:
        raise BitstreamError("checksum mismatch: the file is corrupted")
    if data[5] & ~(FLAG_METADATA | FLAG_STORED):
        raise BitstreamError(
            f"flags byte is {data[5]:#04x} but version {data[4]} defines only bits 0 and 1; "
            "the file was written by another program or a newer aecodec"
        )
    if layout >= len(LAYOUTS):
        known = ", ".join(f"{code}={text}" for code, text in enumerate(LAYOUTS))
        raise BitstreamError(f"unknown pixel layout code {layout} (known: {known})")
    try:
        header = Header("", b"", 100.0, width, height, LAYOUTS[layout], data[4], has_metadata, True)
    except ValueError as error:
        raise BitstreamError(f"invalid header: {error}") from None
    pixels = _inflate(data[start : start + length], coding, width * height * len(header.layout))
    payloads = [pixels]
    if has_metadata:
        payloads.append(data[start + length : start + length + meta_length])
        unpack_metadata(payloads[-1])
    return header, payloads


def _inflate(body: bytes, coding: int, size: int) -> bytes:
    """Stored pixels as they were: exactly `size` bytes, never more held in memory."""
    if coding == STORED_RAW:
        if len(body) != size:
            raise BitstreamError(f"stored pixels are {len(body)} bytes, not the image's {size}")
        return body
    if coding != STORED_DEFLATE:
        raise BitstreamError(f"unknown pixel coding {coding} (known: 0=raw, 1=deflate)")
    inflater = zlib.decompressobj(-15)
    try:
        pixels = inflater.decompress(body, size)
    except zlib.error as error:
        raise BitstreamError(f"corrupted stored pixels: {error}") from None
    if len(pixels) != size or not inflater.eof or inflater.unconsumed_tail or inflater.unused_data:
        raise BitstreamError(f"stored pixels do not inflate to exactly the image's {size} bytes")
    return pixels

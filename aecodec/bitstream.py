"""The .aec container: one compressed image, its header, and two checksums (see docs/format.md).

Pure bytes: nothing here knows about torch, numpy or what the payloads mean. `pack` writes a
file, `unpack` reads one and turns every malformed input into a `BitstreamError` with one
sentence, `describe` summarises a file for `aecodec info`. The picture's metadata (ICC profile,
EXIF, XMP) travels as an optional last payload, `pack_metadata`'s block, announced by flag bit 0.

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
FORMAT_VERSION = 2  # what this aecodec writes; it reads every version up to this one
LAYOUTS = ("L", "LA", "RGB", "RGBA")  # the layout code is the index in this tuple
HASH_SIZE = 8  # first bytes of the SHA-256 of the model's weights file
MAX_SIDE = 1 << 20
MAX_PIXELS = 1 << 30
MAX_PAYLOADS = 255
QUALITY_SCALE = 100  # quality is stored as round(quality * 100), so its step is 0.01
FLAG_METADATA = 0x01  # flags bit 0: the last payload is a metadata block
# Chunk tags in the order a block holds them, each at most once, by Metadata field.
METADATA_TAGS = {"icc_profile": b"ICCP", "exif": b"EXIF", "xmp": b"XMP "}
MAX_CHUNK = 16 << 20  # bytes; far above real profiles and EXIF, and bounds what a reader holds
# A model is named by its registry name only, never a path: no separators, no leading dot.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

_FIXED = struct.Struct(">8sHIIBB")  # weights hash, quality x 100, width, height, layout, k
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
    # 2: y's tables are the nearest to each predicted scale; 1: the next wider (docs/format.md)
    format_version: int = FORMAT_VERSION
    has_metadata: bool = False  # the last payload is a metadata block (pack_metadata)

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
        """Whether the file carries an alpha plane (its last payload)."""
        return self.layout in ("LA", "RGBA")


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
    """Header and payloads of an .aec file; BitstreamError for anything that is not a valid one."""
    data = memoryview(data).tobytes()  # any bytes-like object; bytes(5) would be five zeros
    _check_magic_and_version(data)
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
    """Every header field and the sizes that matter, in display order, for `aecodec info`."""
    payload_bytes = sum(len(p) for p in payloads)
    return {
        "format_version": header.format_version,
        "model": header.model,
        "weights_hash": header.weights_hash.hex(),
        "quality": header.quality,
        "width": header.width,
        "height": header.height,
        "layout": header.layout,
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
    if flags & ~FLAG_METADATA:
        raise BitstreamError(
            f"flags byte is {flags:#04x} but version {version} defines only bit 0 (metadata); "
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

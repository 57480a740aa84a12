"""The cases of bench/fuzz.py: a valid .aec file split into its fields, and mutations of them.

Pure bytes, like aecodec/bitstream.py (no torch, no aecodec import): a file is a list of named
segments in file order (docs/format.md), a mutation changes them in place and returns a label
that names what it did, and `make_case` turns (run seed, case number) into the same bytes on
every machine and in every worker, so any case can be made again from its number.
"""

import functools
import random
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

FIXED = struct.Struct(">8sHIIBB")  # as aecodec.bitstream._FIXED: hash .. payload count
U32 = struct.Struct(">I")
# name -> (bytes, largest valid value): the integer fields after the weights hash, in file
# order, then the byte fields around the name.
FIELDS = {"quality": (2, 10000), "width": (4, 1 << 20), "height": (4, 1 << 20), "layout": (1, 3)}
SMALL_FIELDS = {"version": (1, 2), "flags": (1, 1), "n": (1, 255), "k": (1, 255)}
METADATA_FLAG = 0x01  # flags bit 0: the last payload is a metadata block
METADATA_TAGS = (b"ICCP", b"EXIF", b"XMP ")  # each chunk: tag, uint32 length, data
MAX_CHUNK = 16 << 20


# Structure: a file as named segments ---------------------------------------------------------


def split(data: bytes) -> list[list]:
    """A valid file as [name, bytes] segments in file order: magic, version, flags, n, name,
    hash, quality, width, height, layout, k, len0.., header_crc, payload0.., file_crc."""
    n = data[6]
    segments = [["magic", data[:4]], ["version", data[4:5]], ["flags", data[5:6]]]
    segments += [["n", data[6:7]], ["name", data[7 : 7 + n]]]
    at = 7 + n
    for name, size in [("hash", 8), *[(f, s) for f, (s, _) in FIELDS.items()], ("k", 1)]:
        segments.append([name, data[at : at + size]])
        at += size
    lengths = [U32.unpack_from(data, at + 4 * i)[0] for i in range(data[at - 1])]
    segments += [[f"len{i}", data[at + 4 * i : at + 4 * i + 4]] for i in range(len(lengths))]
    at += 4 * len(lengths)
    segments.append(["header_crc", data[at : at + 4]])
    at += 4
    for i, length in enumerate(lengths):
        segments.append([f"payload{i}", data[at : at + length]])
        at += length
    segments.append(["file_crc", data[at : at + 4]])
    return segments


def join(segments: list[list]) -> bytes:
    return b"".join(bytes(s[1]) for s in segments)


def fix_crcs(data: bytes) -> bytes:
    """Both CRC-32s rewritten where a reader looks for them (as the fields now say), so that
    the file gets past the checksums whatever the mutation did to the layout."""
    out = bytearray(data)
    if len(out) < 7:
        return bytes(out)
    table = 7 + out[6] + FIXED.size
    if len(out) < table:
        return bytes(out)
    at = table + 4 * out[table - 1]
    if len(out) < at + 4:
        return bytes(out)
    out[at : at + 4] = U32.pack(zlib.crc32(out[:at]))
    if len(out) >= at + 8:  # the file CRC is the last four bytes, when they are not the header's
        out[-4:] = U32.pack(zlib.crc32(out[:-4]))
    return bytes(out)


STRIDE = 64  # the codec works on the image padded to a multiple of this on each side


def claimed_pixels(data: bytes) -> int:
    """The area the codec works on for the width x height a reader finds in (possibly damaged)
    bytes, each side padded to STRIDE (a 1x8192 image costs what 64x8192 does); 0 if cut
    before."""
    if len(data) < 7 or len(data) < 7 + data[6] + FIXED.size:
        return 0
    _, _, width, height, _, _ = FIXED.unpack_from(data, 7 + data[6])
    return -(-width // STRIDE) * STRIDE * -(-height // STRIDE) * STRIDE


# Mutations: each changes the segments in place and returns a label ---------------------------


def _find(segments: list[list], name: str) -> list | None:
    return next((s for s in segments if s[0] == name), None)


def _payloads(segments: list[list]) -> list[list]:
    return [s for s in segments if s[0].startswith("payload")]


def _set_payloads(segments: list[list], payloads: list[bytes]) -> None:
    """Replace payloads, length table and k with a consistent set (CRCs untouched)."""
    kept = [s for s in segments if not s[0].startswith(("payload", "len"))]
    k = _find(kept, "k")
    if k is not None:
        k[1] = bytes([len(payloads) & 0xFF])
    head = next((i for i, s in enumerate(kept) if s[0] == "header_crc"), len(kept))
    kept[head:head] = [[f"len{i}", U32.pack(len(p))] for i, p in enumerate(payloads)]
    tail = next((i for i, s in enumerate(kept) if s[0] == "file_crc"), len(kept))
    kept[tail:tail] = [[f"payload{i}", p] for i, p in enumerate(payloads)]
    segments[:] = kept


def _boundary(rng: random.Random, size: int, top: int, old: int) -> tuple[str, int]:
    most = (1 << (8 * size)) - 1
    choices = [("0", 0), ("1", 1), ("max", top), ("max-plus-1", top + 1), ("all-ones", most)]
    choices += [("high-bit", 1 << (8 * size - 1)), ("old-minus-1", old - 1)]
    choices += [("old-plus-1", old + 1)]  # no "+" in labels: it joins stacked mutations
    choices += [("random", rng.randrange(most + 1))]
    name, value = rng.choice(choices)
    return name, value & most


def set_field(segments: list[list], rng: random.Random, context: dict) -> str:
    """A header integer (or a payload length) set to a boundary or random value."""
    specs = {**SMALL_FIELDS, **FIELDS}
    lengths = [s[0] for s in segments if s[0].startswith("len")]
    name = rng.choice([*specs, *lengths])
    segment = _find(segments, name)
    if segment is None or not segment[1]:
        return "set-missing"
    size, top = specs.get(name, (4, 1 << 16))
    size = len(segment[1])
    what, value = _boundary(rng, size, top, int.from_bytes(segment[1], "big"))
    segment[1] = value.to_bytes(size, "big")
    return f"set-{name}={what}"


def set_size(segments: list[list], rng: random.Random, context: dict) -> str:
    """Width and height set together: around the pixel limit, the side limit, transposed."""
    width, height = _find(segments, "width"), _find(segments, "height")
    if width is None or height is None or len(width[1]) != 4 or len(height[1]) != 4:
        return "size-missing"
    w, h = U32.unpack(width[1])[0], U32.unpack(height[1])[0]
    limit, side = context["limit"], 1 << 10
    pairs = [(h, w), (1, 1), (w + 1, h), (w, h + 1), (max(w - 1, 1), h), (2 * w, 2 * h)]
    pairs += [(side, side), (side, side + 1), (limit, 1), (1, limit), (limit + 1, 1)]
    pairs += [(1 << 15, 1 << 15), (1 << 20, 1 << 10), (1 << 20, 1 << 20), (w * 64, h)]
    pairs += [(rng.randrange(1, 300), rng.randrange(1, 300))]
    w, h = rng.choice(pairs)
    width[1], height[1] = U32.pack(w & 0xFFFFFFFF), U32.pack(h & 0xFFFFFFFF)
    return f"size={w}x{h}"


NAMES = {  # label -> model name
    "dotdot-x": "../x",
    "etc-passwd": "/etc/passwd",
    "255-bytes": "a" * 255,
    "254-bytes-of-e-acute": "é" * 127,
    "x": "x",
    "dot": ".",
    "slash": "/",
    "other-model": "hyperprior-vr",  # one other registry model: each one loaded stays in memory
    "upper-case": "HYPERPRIOR-SC-JOINT",
    "trailing-space": "hyperprior-sc-joint ",
    "relative-weights": "aecodec/weights/hyperprior-sc-joint",
    "relative-card": "aecodec/weights/hyperprior-sc-joint.json",
    "dotdot-weights": "../main/aecodec/weights/hyperprior-sc-joint",
    "dev-null": "/dev/null",
    "escape-sequence": "hyperprior-sc-joint\x1b[31m",
    "nul-byte": "hyper\x00prior",
}


def set_name(segments: list[list], rng: random.Random, context: dict) -> str:
    """The model name replaced, its length byte kept consistent."""
    name, n = _find(segments, "name"), _find(segments, "n")
    if name is None or n is None:
        return "name-missing"
    label = rng.choice([*NAMES, "not-utf8", "empty", "absolute-shipped"])
    if label in NAMES:
        value = NAMES[label].encode()
    elif label == "not-utf8":
        value = b"\xff\xfe" + bytes(name[1][2:])
    else:
        value = {"empty": "", "absolute-shipped": context["shipped"]}[label].encode()
    name[1], n[1] = value[:255], bytes([min(len(value), 255)])
    return f"name-{label}"  # no "=": each name is counted on its own


def set_hash(segments: list[list], rng: random.Random, context: dict) -> str:
    segment = _find(segments, "hash")
    if segment is None or not segment[1]:
        return "hash-missing"
    if rng.random() < 0.5:
        segment[1] = bytes(len(segment[1]))
        return "hash-zero"
    data = bytearray(segment[1])
    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    segment[1] = bytes(data)
    return "hash-flip"


def payload_op(segments: list[list], rng: random.Random, context: dict) -> str:
    """One payload changed, the lengths kept consistent unless the op is a length lie."""
    payloads = [bytes(s[1]) for s in _payloads(segments)]
    if not payloads:
        return "payload-none"
    i = rng.randrange(len(payloads))
    p = payloads[i]
    op = rng.choice(PAYLOAD_OPS)
    if op == "lie":  # the length field disagrees with the data, which stays
        segment = _find(segments, f"len{i}")
        what, value = _boundary(rng, 4, len(p), len(p))
        segment[1] = U32.pack(value)
        return f"payload{i}-length={what}"
    if op == "zero":
        p = bytes(len(p))
    elif op == "ones":
        p = b"\xff" * len(p)
    elif op == "random":
        p = rng.randbytes(len(p))
    elif op == "empty":
        p = b""
    elif op == "cut":
        p = p[: rng.randrange(len(p) + 1) & ~3]
    elif op == "cut-odd":
        p = p[: max(len(p) - rng.randrange(1, 4), 0)]
    elif op == "extend-zero":
        p += bytes(4 * rng.randrange(1, 64))
    elif op == "extend-random":
        p += rng.randbytes(4 * rng.randrange(1, 64))
    elif op == "flip":
        data = bytearray(p)
        for _ in range(rng.randrange(1, 9) if data else 0):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        p = bytes(data)
    elif op == "splice":
        other = split(rng.choice(context["seeds"]))
        donors = _payloads(other)
        p = bytes(rng.choice(donors)[1]) if donors else p
    if op == "duplicate":
        payloads.insert(i, p)
    elif op == "drop":
        del payloads[i]
    elif op == "swap":
        j = rng.randrange(len(payloads))
        payloads[i], payloads[j] = payloads[j], payloads[i]
    else:
        payloads[i] = p
    _set_payloads(segments, payloads)
    return f"payload{i}-{op}"


def metadata_op(segments: list[list], rng: random.Random, context: dict) -> str:
    """The metadata block (last payload, flags bit 0) rebuilt with one chunk made wrong."""
    flags, payloads = _find(segments, "flags"), [bytes(s[1]) for s in _payloads(segments)]
    if flags is None or len(flags[1]) != 1 or not payloads:
        return "metadata-none"
    chunks = _chunks(payloads[-1]) if flags[1][0] & METADATA_FLAG else None
    if chunks is None:  # no block yet (or one too broken to parse): add a plausible one
        chunks = [[b"ICCP", rng.randbytes(64)], [b"EXIF", b"MM\0*" + rng.randbytes(12)]]
        chunks.append([b"XMP ", b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'])
        payloads.append(b"")
    flags[1] = bytes([flags[1][0] | METADATA_FLAG])
    i = rng.randrange(len(chunks))
    ops = ["tag", "length", "reorder", "repeat", "cut", "empty", "drop", "huge"]
    op = rng.choices(ops, [1] * 7 + [0.1])[0]  # "huge" is 16 MiB to make, check and decode
    lengths = [len(data) for _, data in chunks]
    if op == "tag":
        chunks[i][0] = rng.choice([b"\0\0\0\0", b"ICC ", b"exif", rng.randbytes(4)])
    elif op == "length":
        what, lengths[i] = _boundary(rng, 4, MAX_CHUNK, lengths[i])
        op = f"length={what}"
    elif op == "reorder":
        chunks.reverse()
        lengths.reverse()
    elif op == "repeat":
        chunks.insert(i, list(chunks[i]))
        lengths.insert(i, lengths[i])
    elif op == "drop":
        del chunks[i], lengths[i]
    elif op == "huge":  # a chunk at the size limit: what a reader must hold at most
        chunks[i][1] = bytes(MAX_CHUNK + rng.choice([0, 1]))
        lengths[i] = len(chunks[i][1])
    block = b"".join(
        tag + U32.pack(n) + data for (tag, data), n in zip(chunks, lengths, strict=True)
    )
    if op == "cut":
        block = block[: rng.randrange(len(block) + 1)]
    elif op == "empty":
        block = b""
    _set_payloads(segments, [*payloads[:-1], block])
    return f"metadata-{op}"


def alpha_bomb(segments: list[list], rng: random.Random, context: dict) -> str:
    """The alpha plane (payload 2 of an LA or RGBA file) replaced with a tiny PNG of a huge
    blank image: what its own header claims is far more than the file's width x height."""
    payloads = [bytes(s[1]) for s in _payloads(segments)]
    if not payloads:
        return "alpha-bomb-none"
    width, height, depth = rng.choice([(12000, 12000, 1), (9000, 9000, 8), (20000, 20000, 1)])
    payloads[2 if len(payloads) > 2 else -1] = blank_png(width, height, depth)
    _set_payloads(segments, payloads)
    return f"alpha-bomb={width}x{height}x{depth}"


@functools.lru_cache(maxsize=4)
def blank_png(width: int, height: int, depth: int) -> bytes:
    """A grey PNG of zeros, written by hand (zlib, no Pillow): 1 bit per pixel packs a 144
    megapixel image in about 17 KB."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return U32.pack(len(data)) + tag + data + U32.pack(zlib.crc32(tag + data))

    deflate, row = zlib.compressobj(9), bytes(1 + (width * depth + 7) // 8)
    idat = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    head = struct.pack(">IIBBBBB", width, height, depth, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _chunks(block: bytes) -> list[list] | None:
    """[tag, data] chunks of a metadata block, or None where it does not parse."""
    chunks, at = [], 0
    while at + 8 <= len(block):
        length = U32.unpack_from(block, at + 4)[0]
        chunks.append([block[at : at + 4], block[at + 8 : at + 8 + length]])
        at += 8 + length
    return chunks if chunks and at == len(block) else None


PAYLOAD_OPS = ["lie", "zero", "ones", "random", "empty", "cut", "cut-odd", "extend-zero"]
PAYLOAD_OPS += ["extend-random", "flip", "splice", "duplicate", "drop", "swap"]


def _segment(segments: list[list], rng: random.Random, nonempty: bool = True) -> list | None:
    choices = [s for s in segments if s[1] or not nonempty]
    return rng.choice(choices) if choices else None


def flip(segments: list[list], rng: random.Random, context: dict) -> str:
    """A bit flipped or a byte replaced, in a field picked uniformly (not by its size)."""
    segment = _segment(segments, rng)
    if segment is None:
        return "flip-none"
    data = bytearray(segment[1])
    at = rng.randrange(len(data))
    if rng.random() < 0.5:
        data[at] ^= 1 << rng.randrange(8)
    else:
        data[at] = rng.randrange(256)
    segment[1] = bytes(data)
    return f"flip-{segment[0]}"


def cut(segments: list[list], rng: random.Random, context: dict) -> str:
    """The file ends inside (or at the start of) a field."""
    i = rng.randrange(len(segments))
    name, data = segments[i]
    segments[i][1] = data[: rng.randrange(len(data) + 1)]
    del segments[i + 1 :]
    return f"cut-{name}"


def grow(segments: list[list], rng: random.Random, context: dict) -> str:
    """Bytes inserted into a field, deleted from one, or appended after the end."""
    segment = _segment(segments, rng, nonempty=False)
    data = bytes(segment[1])
    at = rng.randrange(len(data) + 1)
    what = rng.choice(["insert", "delete", "append", "double"])
    if what == "insert":
        segment[1] = data[:at] + rng.randbytes(rng.randrange(1, 9)) + data[at:]
    elif what == "delete":
        segment[1] = data[:at] + data[at + rng.randrange(1, 5) :]
    elif what == "double":
        segment[1] = data + data
    else:
        segments.append(["tail", rng.randbytes(rng.randrange(1, 17))])
        return "append"
    return f"{what}-{segment[0]}"


MUTATIONS = [  # (weight, mutation)
    (4, set_field),
    (2, set_size),
    (2, set_name),
    (1, set_hash),
    (8, payload_op),
    (1, metadata_op),
    (0.05, alpha_bomb),  # up to 2 s each until the decoder checks the PNG's size
    (3, flip),
    (2, cut),
    (2, grow),
]


@dataclass
class Case:
    index: int
    mode: str  # "raw" or "recomputed"
    label: str
    data: bytes


def make_case(seeds: list[bytes], seed: int, index: int, fraction: float, limit: int) -> Case:
    """Case `index` of the run of --seed `seed`: the same bytes on every machine and worker."""
    rng = random.Random(seed * 1_000_003 + index)
    mode = "recomputed" if rng.random() < fraction else "raw"
    context = {"seeds": seeds, "limit": limit, "shipped": _shipped()}
    weights, mutations = zip(*MUTATIONS, strict=True)
    for _ in range(10):  # a mutation may change nothing (a field set to its own value)
        original = rng.choice(seeds)
        segments = split(original)
        count = rng.choices([1, 2, 3], [7, 2, 1])[0]
        labels = [rng.choices(mutations, weights)[0](segments, rng, context) for _ in range(count)]
        data = join(segments)
        if mode == "recomputed":
            data = fix_crcs(data)
        if data != original:
            break
    return Case(index, mode, "+".join(labels), data)


@functools.lru_cache(maxsize=1)
def _shipped() -> str:
    """The default model's weights as an absolute path without suffix: a name no file should
    be allowed to use (a registry name is what the format asks for)."""
    return str(Path(__file__).resolve().parents[1] / "aecodec" / "weights" / "hyperprior-sc-joint")

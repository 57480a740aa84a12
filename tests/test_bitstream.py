"""The .aec container: what a file holds, and what the user is told when a file is damaged."""

import random
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from aecodec import bitstream
from aecodec.bitstream import (
    LAYOUTS,
    MAX_PIXELS,
    MAX_SIDE,
    STORED_MAX_PIXELS,
    Header,
    Metadata,
    describe,
    pack,
    pack_metadata,
    quantize_quality,
    stored_header,
    unpack,
)
from aecodec.errors import BitstreamError

HASH = bytes.fromhex("0123456789abcdef")
HEADER = Header("hyperprior-vr", HASH, 37.5, 3, 2, "RGBA")
PAYLOADS = [b"zz", b"yyy", b"png"]
FORMAT_DOC = Path(__file__).parents[1] / "docs" / "format.md"


def raw_file(
    *,
    version=2,
    flags=0,
    name=b"hyperprior-vr",
    weights_hash=HASH,
    quality=3750,
    width=3,
    height=2,
    layout=3,
    payloads=(b"zz", b"yyy"),
) -> bytes:
    """A file written by hand from the table in docs/format.md, with valid checksums, so that
    each field can hold what pack() would refuse to write."""
    head = b"\x89AEC" + bytes([version, flags, len(name)]) + name + weights_hash
    head += struct.pack(">HIIBB", quality, width, height, layout, len(payloads))
    head += b"".join(struct.pack(">I", len(p)) for p in payloads)
    body = head + struct.pack(">I", zlib.crc32(head)) + b"".join(payloads)
    return body + struct.pack(">I", zlib.crc32(body))


def error_of(data: bytes) -> str:
    with pytest.raises(BitstreamError) as info:
        unpack(data)
    return str(info.value)


# --- What a file holds ------------------------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_round_trip_keeps_every_field(layout):
    header = Header("hyperprior-vr", HASH, 12.34, 4000, 3000, layout)
    payloads = [b"\x00" * 5, bytes(range(256)), b""]
    assert unpack(pack(header, payloads)) == (header, payloads)


@pytest.mark.parametrize("quality", [0, 0.01, 0.29, 50, 99.99, 100])
def test_quality_round_trips_exactly_in_steps_of_a_hundredth(quality):
    header = Header("m", HASH, quality, 1, 1, "L")
    assert unpack(pack(header, []))[0].quality == quality


def test_quality_must_be_quantised_before_encoding():
    # The decoder only sees the stored quality, so the encoder must have used exactly that.
    with pytest.raises(ValueError, match="quantize_quality"):
        Header("m", HASH, 37.123, 1, 1, "L")
    assert quantize_quality(37.123) == 37.12
    assert Header("m", HASH, quantize_quality(37.123), 1, 1, "L").quality == 37.12


def test_extreme_but_legal_sizes_and_counts_round_trip():
    header = Header("m" * 64, HASH, 100, MAX_SIDE, MAX_PIXELS // MAX_SIDE, "LA")
    payloads = [bytes([i]) for i in range(255)]
    assert unpack(pack(header, payloads)) == (header, payloads)


def test_file_bytes_follow_the_documented_table():
    assert pack(HEADER, [b"zz", b"yyy"]) == raw_file()


def test_worked_example_in_the_docs_is_what_pack_writes():
    text = FORMAT_DOC.read_text()
    block = re.search(r"<!-- example-hex -->\s*```\n(.*?)```", text, re.S).group(1)
    documented = bytes.fromhex("".join(line.split("|")[0] for line in block.splitlines()))
    assert documented == pack(HEADER, PAYLOADS)


def test_describe_reports_fields_sizes_and_bits_per_pixel():
    data = pack(HEADER, PAYLOADS)
    info = describe(*unpack(data), len(data))
    assert info["model"] == "hyperprior-vr"
    assert info["weights_hash"] == "0123456789abcdef"
    assert (info["quality"], info["width"], info["height"]) == (37.5, 3, 2)
    assert info["layout"] == "RGBA"
    assert info["payload_sizes"] == [2, 3, 3]
    # 4 magic + 3 + 13 name + 8 hash + 12 fixed fields + 3 * 4 lengths + 4 + 4 checksums
    assert info["overhead_bytes"] == 60 == len(data) - 8
    assert info["bits_per_pixel"] == len(data) * 8 / 6


# --- What the user is told about a damaged file ----------------------------------------------


def test_every_single_byte_corruption_is_detected():
    # CRC-32 detects every error confined to 32 consecutive bits, so no single damaged byte
    # can slip through, whatever the parser makes of it.
    data = pack(HEADER, PAYLOADS)
    for offset in range(len(data)):
        for mask in (0xFF, 0x01):
            damaged = bytearray(data)
            damaged[offset] ^= mask
            with pytest.raises(BitstreamError):
                unpack(bytes(damaged))


def test_corruption_outside_magic_version_and_counts_is_called_corruption():
    data = pack(HEADER, PAYLOADS)
    structural = {0, 1, 2, 3, 4, 6, 7 + 13 + 8 + 2 + 4 + 4 + 1}  # magic, version, n, k
    for offset in sorted(set(range(len(data))) - structural):
        damaged = bytearray(data)
        damaged[offset] ^= 0x01
        assert error_of(bytes(damaged)).startswith("checksum mismatch: the file is corrupted")


def test_every_truncation_says_truncated():
    data = pack(HEADER, PAYLOADS)
    assert error_of(b"").startswith("empty file")
    for length in range(1, len(data)):
        assert error_of(data[:length]).startswith("truncated .aec file: "), length


def test_truncated_payloads_say_how_much_is_missing():
    data = pack(HEADER, [b"x" * 1000])
    assert error_of(data[:500]) == f"truncated .aec file: it has 500 of its {len(data)} bytes"


def test_payload_lengths_that_overrun_the_file_are_refused():
    data = raw_file(payloads=(b"zz", b"yyy"))
    overrun = raw_file(payloads=(b"zz", b"yyy" * 100))[: len(data)]
    assert error_of(overrun).startswith("truncated .aec file: ")


def test_trailing_bytes_are_refused():
    assert error_of(pack(HEADER, PAYLOADS) + b"\n") == (
        "1 unexpected bytes after the end of the .aec data"
    )


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n" + bytes(60), b"hello world", b"\x00"])
def test_other_files_are_not_aec_files(data):
    assert error_of(data) == "not an .aec file (wrong magic bytes)"


def test_a_version_1_file_still_reads_and_says_so():
    header, payloads = unpack(raw_file(version=1))
    assert header == Header("hyperprior-vr", HASH, 37.5, 3, 2, "RGBA", format_version=1)
    assert pack(header, payloads) == raw_file(version=1)  # and is written back unchanged
    assert unpack(raw_file())[0].format_version == 2 == HEADER.format_version


@pytest.mark.parametrize("height, width", [(1, 1), (32, 32), (33, 70), (100, 5)])
def test_latent_tiles_cover_the_hyper_latent_once_row_by_row(height, width):
    tiles = bitstream.latent_tiles(height, width, bitstream.TILE_VERSION)
    covered = np.zeros((height, width), int)
    for rows, cols in tiles:
        assert rows.stop - rows.start <= bitstream.LATENT_TILE >= cols.stop - cols.start
        covered[rows, cols] += 1
    assert (covered == 1).all()
    assert tiles == sorted(tiles, key=lambda t: (t[0].start, t[1].start))
    assert bitstream.latent_tiles(height, width, 5) == [(slice(0, height), slice(0, width))]


def test_a_newer_version_asks_for_an_upgrade():
    assert error_of(raw_file(version=7)) == (
        "file format version 7 is newer than this aecodec (reads up to 6); upgrade aecodec"
    )
    assert error_of(raw_file(version=7)[:5]).startswith("file format version 7 is newer")
    assert "unknown file format version 0" in error_of(raw_file(version=0))


def test_reserved_flags_must_be_zero():
    # Bit 0 announces a metadata block (tests/test_metadata.py); the other seven are reserved.
    for flags in (0x02, 0x80, 0xFF):
        assert "defines only bit 0 (metadata)" in error_of(raw_file(flags=flags))


# The files below have valid checksums: only the values are wrong, as a buggy or hostile writer
# would make them.


@pytest.mark.parametrize(
    ("width", "height"),
    [(0, 5), (5, 0), (MAX_SIDE + 1, 1), (1, 2**32 - 1), (MAX_SIDE, MAX_SIDE)],
)
def test_zero_or_absurd_dimensions_are_refused(width, height):
    assert "image size" in error_of(raw_file(width=width, height=height))


def test_quality_above_10000_is_refused():
    assert error_of(raw_file(quality=10001)) == "quality field is 10001, above the maximum of 10000"
    assert unpack(raw_file(quality=10000))[0].quality == 100


@pytest.mark.parametrize(
    "name", [b"\xff\xfe", b"", b"\x1b[31mred", b"../x", b"/etc/passwd", b".hidden", b"a" * 65]
)
def test_model_name_must_be_a_registry_name_never_a_path(name):
    assert "model name" in error_of(raw_file(name=name))


def test_unknown_layout_code_is_refused():
    assert error_of(raw_file(layout=4)).startswith("unknown pixel layout code 4")


def test_random_garbage_only_ever_raises_bitstream_error():
    rng = random.Random(0)
    good = pack(HEADER, PAYLOADS)
    for _ in range(3000):
        damaged = bytearray(good[:5] + rng.randbytes(rng.randrange(80)))
        if rng.random() < 0.5:  # or a real file with a few bytes anywhere overwritten
            damaged = bytearray(good)
            for _ in range(rng.randrange(1, 4)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            if damaged == good:
                continue
        with pytest.raises(BitstreamError):
            unpack(bytes(damaged))


# --- What pack refuses to write ----------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        dict(model=""),
        dict(model="x" * 256),
        dict(model="tab\tname"),
        dict(weights_hash=b"short"),
        dict(quality=100.01),
        dict(quality=-1),
        dict(quality=float("nan")),
        dict(width=0),
        dict(width=MAX_SIDE + 1),
        dict(width=1.5),
        dict(width=MAX_SIDE, height=MAX_SIDE),
        dict(layout="CMYK"),
    ],
)
def test_invalid_headers_cannot_be_made(fields):
    good = dict(model="m", weights_hash=HASH, quality=50, width=1, height=1, layout="L")
    with pytest.raises(ValueError):
        Header(**{**good, **fields})


def test_pack_refuses_more_payloads_than_the_count_byte_holds():
    with pytest.raises(ValueError, match="at most 255"):
        pack(HEADER, [b""] * 256)


# --- Stored pixels (version 3): tiny images without a model --------------------------------


def stored_file(width=1, height=1, layout="RGB", pixels=None, metadata=None) -> bytes:
    size = width * height * len(layout)
    pixels = bytes(range(7, 7 + size)) if pixels is None else pixels
    block = pack_metadata(metadata) if metadata else b""
    header = stored_header(width, height, layout, bool(block))
    return pack(header, [pixels, block] if block else [pixels])


def test_a_one_pixel_image_is_stored_in_21_bytes_and_comes_back_exact():
    data = stored_file(pixels=b"\x01\x02\x03")
    assert len(data) == 21
    header, payloads = unpack(data)
    assert header.stored and header.format_version == 3 and not header.has_metadata
    assert (header.width, header.height, header.layout, payloads) == (
        1,
        1,
        "RGB",
        [b"\x01\x02\x03"],
    )


def test_stored_worked_example_in_the_docs_is_what_pack_writes():
    text = FORMAT_DOC.read_text()
    block = re.search(r"<!-- stored-example-hex -->\s*```\n(.*?)```", text, re.S).group(1)
    documented = bytes.fromhex("".join(line.split("|")[0] for line in block.splitlines()))
    assert documented == stored_file(2, 1, "LA", b"\x10\x20\x30\x40")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_stored_pixels_round_trip_raw_or_deflated_with_metadata(layout):
    flat = bytes(4096 * len(layout))  # deflates to almost nothing
    noisy = random.Random(0).randbytes(7 * 5 * len(layout))  # stays raw
    meta = Metadata(icc_profile=b"icc!", xmp=b"<x/>")
    for (width, height, pixels), metadata in [((64, 64, flat), None), ((7, 5, noisy), meta)]:
        data = stored_file(width, height, layout, pixels, metadata)
        assert len(data) < 100 if pixels is flat else len(data) > len(pixels)
        header, payloads = unpack(data)
        assert payloads[0] == pixels and header.layout == layout
        assert header.has_metadata == bool(metadata)
        info = describe(header, payloads, len(data))
        assert info["stored"] and info["model"] is None and info["total_bytes"] == len(data)


def test_every_single_byte_corruption_of_a_stored_file_is_detected():
    for data in (stored_file(3, 2), stored_file(64, 64, "L", bytes(4096), Metadata(exif=b"MM\0*"))):
        for offset in range(len(data)):
            for mask in (0xFF, 0x01):
                damaged = bytearray(data)
                damaged[offset] ^= mask
                with pytest.raises(BitstreamError):
                    unpack(bytes(damaged))


def test_every_truncation_of_a_stored_file_says_truncated():
    data = stored_file(3, 2, "RGBA")
    for end in range(1, len(data)):
        assert error_of(data[:end]).startswith("truncated .aec file")


def stored_by_hand(width, height, layout, coding, body, version=3, flags=2) -> bytes:
    head = (
        b"\x89AEC"
        + bytes([version, flags])
        + struct.pack(">HHBBH", width, height, layout, coding, len(body))
    )
    data = head + body
    return data + struct.pack(">I", zlib.crc32(data))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (stored_by_hand(65, 64, 2, 0, bytes(65 * 64 * 3)), "over the 4096 pixels"),
        (stored_by_hand(0, 1, 2, 0, b""), "image size 0x1 is invalid"),
        (stored_by_hand(1, 1, 4, 0, b"abcd"), "unknown pixel layout code 4"),
        (stored_by_hand(1, 1, 2, 2, b"abc"), "unknown pixel coding 2"),
        (stored_by_hand(1, 1, 2, 0, b"ab"), "stored pixels are 2 bytes, not the image's 3"),
        (stored_by_hand(1, 1, 2, 1, b"\xff\xff"), "corrupted stored pixels"),
        (stored_by_hand(1, 1, 2, 1, zlib.compress(b"abcd")[2:-4]), "do not inflate to exactly"),
        (stored_by_hand(1, 1, 2, 0, b"abc", flags=0x06), "defines only bits 0 and 1"),
    ],
)
def test_stored_files_that_a_writer_got_wrong_are_refused(data, message):
    assert message in error_of(data)


def test_a_deflate_bomb_is_cut_at_the_image_size():
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = bomb.compress(bytes(50_000_000)) + bomb.flush()  # 49 KB that inflate to 50 MB
    assert "do not inflate to exactly" in error_of(stored_by_hand(64, 64, 3, 1, body[:65535]))


def test_stored_headers_are_checked():
    for bad in [
        dict(width=65, height=64),
        dict(model="hyperprior-vr"),
        dict(format_version=2),
    ]:
        fields = dict(model="", weights_hash=b"", quality=100.0, width=1, height=1, layout="L",
                      format_version=3, has_metadata=False, stored=True)  # fmt: skip
        with pytest.raises(ValueError):
            Header(**{**fields, **bad})
    assert STORED_MAX_PIXELS == 4096
    with pytest.raises(ValueError, match="takes its 3 bytes of pixels"):
        pack(stored_header(1, 1, "RGB"), [b"ab"])


def test_a_version_2_file_with_the_stored_flag_is_refused():
    assert "version 2 defines only bit 0 (metadata)" in error_of(raw_file(flags=0x02))

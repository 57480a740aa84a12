"""The .aec container: what a file holds, and what the user is told when a file is damaged."""

import random
import re
import struct
import zlib
from pathlib import Path

import pytest

from aecodec.bitstream import (
    LAYOUTS,
    MAX_PIXELS,
    MAX_SIDE,
    Header,
    describe,
    pack,
    quantize_quality,
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


def test_a_newer_version_asks_for_an_upgrade():
    assert error_of(raw_file(version=3)) == (
        "file format version 3 is newer than this aecodec (reads up to 2); upgrade aecodec"
    )
    assert error_of(raw_file(version=3)[:5]).startswith("file format version 3 is newer")
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

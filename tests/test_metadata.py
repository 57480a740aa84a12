"""The picture's ICC profile, EXIF and XMP: kept from image to .aec to image, free when absent."""

import io
import re
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngInfo

import aecodec
from aecodec.bitstream import (
    MAX_CHUNK,
    Header,
    Metadata,
    describe,
    pack,
    pack_metadata,
    unpack,
    unpack_metadata,
)
from aecodec.errors import BitstreamError
from aecodec.image import read_picture, save_picture
from tests.conftest import smooth_image

FORMAT_DOC = Path(__file__).parents[1] / "docs" / "format.md"
HASH = bytes.fromhex("0123456789abcdef")
MAKE, DATE_TIME, ORIENTATION, GPS_IFD, GPS_LATITUDE = 0x010F, 0x0132, 0x0112, 0x8825, 0x0002
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    b'syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="a'
    b'ec"/></rdf:RDF></x:xmpmeta>'
)
# The metadata is the codec's business only through the container: one entropy model will do.
one_model = pytest.mark.parametrize("tiny_model", ["hyperprior-tiny"], indirect=True)


def wide_gamut_profile() -> bytes:
    """An RGB profile that is not sRGB, without system files: Little CMS's sRGB profile with the
    Display P3 primaries (D50-adapted) as its colorants."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    count = struct.unpack_from(">I", profile, 128)[0]
    offsets = dict(struct.unpack_from(">4sI", profile, 132 + 12 * i) for i in range(count))
    primaries = {
        b"rXYZ": (0.5151, 0.2412, -0.0011),
        b"gXYZ": (0.2920, 0.6922, 0.0419),
        b"bXYZ": (0.1571, 0.0666, 0.7841),
    }
    for tag, xyz in primaries.items():  # s15Fixed16 numbers after the 8-byte type header
        struct.pack_into(">3i", profile, offsets[tag] + 8, *(round(v * 65536) for v in xyz))
    return bytes(profile)


PROFILE = wide_gamut_profile()


def camera_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE], exif[DATE_TIME], exif[ORIENTATION] = "Canon", "2024:05:06 07:08:09", orientation
    exif.get_ifd(GPS_IFD)[GPS_LATITUDE] = (48.0, 51.0, 29.5)
    return exif


def saved(image: Image.Image, format: str, **options) -> Image.Image:
    """The image as `format` gives it back (a file made in memory, as from a camera)."""
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    reread = Image.open(io.BytesIO(buffer.getvalue()))
    reread.load()
    return reread


def photo(h: int = 16, w: int = 24, **options) -> Image.Image:
    return saved(Image.fromarray(smooth_image(h, w)), "PNG", **options)


def container(header: Header, payloads: list[bytes], flags: int) -> bytes:
    """A file built by hand from the table in docs/format.md, with valid checksums."""
    name = header.model.encode()
    head = b"\x89AEC" + bytes([header.format_version, flags, len(name)]) + name
    quality, layout = round(header.quality * 100), ("L", "LA", "RGB", "RGBA").index(header.layout)
    head += header.weights_hash + struct.pack(">H", quality)
    head += struct.pack(">IIBB", header.width, header.height, layout, len(payloads))
    head += b"".join(struct.pack(">I", len(p)) for p in payloads)
    body = head + struct.pack(">I", zlib.crc32(head)) + b"".join(payloads)
    return body + struct.pack(">I", zlib.crc32(body))


HEADER = Header("hyperprior-vr", HASH, 37.5, 3, 2, "RGB", has_metadata=True)


# --- The block in the container ---------------------------------------------------------------


def test_the_worked_example_in_the_docs_is_what_pack_writes():
    text = FORMAT_DOC.read_text()
    block = re.search(r"<!-- metadata-example-hex -->\s*```\n(.*?)```", text, re.S).group(1)
    documented = bytes.fromhex("".join(line.split("|")[0] for line in block.splitlines()))
    metadata = Metadata(icc_profile=b"icc!", xmp=b"<x/>")
    assert documented == pack(HEADER, [b"zz", b"yyy", pack_metadata(metadata)])
    header, payloads = unpack(documented)
    assert header.has_metadata and unpack_metadata(payloads[-1]) == metadata


def test_a_file_without_metadata_has_flags_0_and_no_block():
    assert pack_metadata(Metadata()) == b"" == pack_metadata(Metadata(b"", b"", b""))
    header = Header("hyperprior-vr", HASH, 37.5, 3, 2, "RGB")
    assert not header.has_metadata
    assert pack(header, [b"zz", b"yyy"]) == container(header, [b"zz", b"yyy"], flags=0)


def test_every_chunk_round_trips_in_the_documented_order():
    metadata = Metadata(icc_profile=PROFILE, exif=b"MM\x00*" + bytes(4), xmp=XMP)
    block = pack_metadata(metadata)
    assert [block[:4], block[8 + len(PROFILE) : 12 + len(PROFILE)]] == [b"ICCP", b"EXIF"]
    assert unpack_metadata(block) == metadata


def test_info_shows_the_chunks_and_their_sizes():
    data = pack(HEADER, [b"zz", b"yyy", pack_metadata(Metadata(icc_profile=PROFILE, xmp=XMP))])
    info = describe(*unpack(data), len(data))
    assert info["metadata"] == f"ICCP {len(PROFILE)} bytes, XMP {len(XMP)} bytes"
    plain = pack(Header("m", HASH, 50, 1, 1, "L"), [b"z"])
    assert describe(*unpack(plain), len(plain))["metadata"] == "none"


def chunk(tag: bytes, data: bytes, length: int | None = None) -> bytes:
    return tag + struct.pack(">I", len(data) if length is None else length) + data


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (b"", "metadata block is empty"),
        (b"ICCP\x00\x00", "ends inside a chunk's tag and length"),
        (chunk(b"ICCP", b"icc", length=9), "claims 9 bytes but the block has 3 left"),
        (chunk(b"GPS ", b"x"), "unknown metadata chunk b'GPS '"),
        (chunk(b"iccp", b"x"), "unknown metadata chunk"),
        (chunk(b"EXIF", b""), "EXIF has 0 bytes"),
        (chunk(b"XMP ", b"", length=MAX_CHUNK + 1), "XMP has 16,777,217 bytes"),
        (chunk(b"ICCP", b"a") + chunk(b"ICCP", b"b"), "ICCP is repeated or out of order"),
        (chunk(b"XMP ", b"a") + chunk(b"EXIF", b"b"), "EXIF is repeated or out of order"),
        (chunk(b"ICCP", b"a") + b"EXI", "ends inside a chunk's tag and length"),
    ],
)
def test_a_malformed_block_with_good_checksums_is_a_bitstream_error(block, message):
    with pytest.raises(BitstreamError, match=re.escape(message)):
        unpack(container(HEADER, [b"zz", b"yyy", block], flags=1))
    with pytest.raises(ValueError):  # and pack will not write one
        pack(HEADER, [b"zz", b"yyy", block])


def test_the_flag_without_any_payload_is_a_bitstream_error():
    with pytest.raises(BitstreamError, match="metadata block is empty"):
        unpack(container(HEADER, [], flags=1))


def test_every_single_byte_corruption_of_a_file_with_metadata_is_detected():
    data = pack(HEADER, [b"zz", b"yyy", pack_metadata(Metadata(icc_profile=b"icc!", xmp=XMP))])
    for offset in range(len(data)):
        damaged = bytearray(data)
        damaged[offset] ^= 0x01
        with pytest.raises(BitstreamError):
            unpack(bytes(damaged))


def test_chunks_over_16_mib_are_refused_when_writing():
    with pytest.raises(ValueError, match="XMP metadata has 16,777,217 bytes"):
        pack_metadata(Metadata(xmp=bytes(MAX_CHUNK + 1)))
    assert len(pack_metadata(Metadata(xmp=bytes(MAX_CHUNK)))) == MAX_CHUNK + 8


# --- Reading pictures --------------------------------------------------------------------------


def test_png_jpeg_and_webp_inputs_give_their_profile_exif_and_xmp():
    exif = camera_exif().tobytes()
    png_text = PngInfo()
    png_text.add_itxt("XML:com.adobe.xmp", XMP.decode())
    inputs = [
        photo(icc_profile=PROFILE, exif=exif, pnginfo=png_text),
        saved(photo(), "JPEG", icc_profile=PROFILE, exif=exif, xmp=XMP),
        saved(photo(), "WEBP", icc_profile=PROFILE, exif=exif[6:], xmp=XMP, lossless=True),
    ]
    for image in inputs:
        metadata = read_picture(image).metadata
        assert metadata == Metadata(PROFILE, exif.removeprefix(b"Exif\x00\x00"), XMP), image.format


def test_arrays_and_plain_images_have_no_metadata():
    assert read_picture(smooth_image(4, 4)).metadata == Metadata()
    assert read_picture(photo()).metadata == Metadata()


def test_a_profile_for_other_colours_than_the_pixels_is_dropped_with_a_warning():
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    picture = read_picture(photo(icc_profile=lab))
    assert picture.metadata.icc_profile is None
    assert picture.warnings == ["ICC profile dropped: it describes 'Lab' colours, not RGB"]


def test_orientation_is_applied_once_and_reset_to_1():
    turned = saved(photo(16, 24), "JPEG", exif=camera_exif(orientation=6).tobytes())
    picture = read_picture(turned)
    assert picture.rgb.shape[:2] == (24, 16)  # rotated
    exif = Image.Exif()
    exif.load(picture.metadata.exif)
    assert (exif[ORIENTATION], exif[MAKE]) == (1, "Canon")
    assert exif.get_ifd(GPS_IFD)[GPS_LATITUDE] == (48.0, 51.0, 29.5)
    xmp = XMP.replace(b"<rdf:Description ", b'<rdf:Description tiff:Orientation="8" ')
    picture = read_picture(saved(photo(16, 24), "JPEG", xmp=xmp))
    assert picture.rgb.shape[:2] == (24, 16) and b'tiff:Orientation="1"' in picture.metadata.xmp


# --- Through the codec -------------------------------------------------------------------------


@one_model
def test_compress_decompress_keeps_a_wide_gamut_profile_exif_and_xmp(tiny_model, tmp_path):
    exif = camera_exif(orientation=6)
    source = saved(photo(16, 24), "JPEG", icc_profile=PROFILE, exif=exif.tobytes(), xmp=XMP)
    data = aecodec.compress(source, quality=50, weights=tiny_model)
    image = aecodec.decompress(data, weights=tiny_model)
    assert image.size == (16, 24) and image.info["icc_profile"] == PROFILE
    assert image.info["xmp"] == XMP
    for suffix in (".png", ".jpg", ".webp", ".tif"):
        warnings = save_picture(image, tmp_path / f"out{suffix}")
        # Pillow cannot write EXIF's sub-directories into a compressed TIFF, and says so.
        assert warnings == ([] if suffix != ".tif" else [warnings[0]]), suffix
        with Image.open(tmp_path / f"out{suffix}") as reread:
            assert reread.info["icc_profile"] == PROFILE, suffix
            assert reread.info["xmp"] == XMP, suffix
            kept = reread.getexif()
            assert kept.get(ORIENTATION, 1) == 1 and kept[MAKE] == "Canon", suffix
            assert kept[DATE_TIME] == "2024:05:06 07:08:09", suffix
            if suffix != ".tif":
                assert kept.get_ifd(GPS_IFD)[GPS_LATITUDE] == (48.0, 51.0, 29.5), suffix
        again = read_picture(tmp_path / f"out{suffix}")
        assert again.rgb.shape[:2] == (24, 16), suffix  # not turned a second time


@one_model
def test_without_metadata_the_file_is_what_it_was_before_metadata_existed(tiny_model):
    plain = aecodec.compress(smooth_image(16, 24), quality=50, weights=tiny_model)
    header, payloads = unpack(plain)
    assert plain[5] == 0 and not header.has_metadata
    assert plain == container(header, payloads, flags=0)
    # The same pixels with metadata: the same payloads plus the block, flags bit 0 set.
    image = Image.fromarray(smooth_image(16, 24))
    image.info["icc_profile"] = PROFILE
    rich = aecodec.compress(image, quality=50, weights=tiny_model)
    block = pack_metadata(Metadata(icc_profile=PROFILE))
    assert rich == container(header, [*payloads, block], flags=1)
    assert aecodec.compress(image, quality=50, weights=tiny_model, strip=True) == plain
    assert "icc_profile" not in aecodec.decompress(rich, weights=tiny_model, strip=True).info


def test_formats_that_cannot_hold_the_profile_say_so(tmp_path):
    image = Image.fromarray(smooth_image(4, 4))
    image.info["icc_profile"] = PROFILE
    (warning,) = save_picture(image, tmp_path / "out.bmp")
    assert warning.startswith("BMP cannot store the ICC colour profile")


# --- The command line --------------------------------------------------------------------------


@one_model
def test_strip_on_both_commands_and_info_lists_the_chunks(cli, tiny_model, tmp_path):
    source = tmp_path / "photo.png"
    Image.fromarray(smooth_image(16, 24)).save(
        source, icc_profile=PROFILE, exif=camera_exif().tobytes()
    )
    kept, stripped = tmp_path / "kept.aec", tmp_path / "stripped.aec"
    for target, options in ((kept, []), (stripped, ["--strip"])):
        done = cli("compress", source, "--weights", tiny_model, "-o", target, *options)
        assert done.returncode == 0, done.stderr
    info = cli("info", kept).stdout
    assert re.search(rf"metadata: ICCP {len(PROFILE)} bytes, EXIF \d+ bytes", info)
    assert "metadata: none" in cli("info", stripped).stdout
    assert stripped.read_bytes()[5] == 0 and kept.read_bytes()[5] == 1

    def decoded(*options) -> dict:
        out = tmp_path / "out.png"
        done = cli("decompress", kept, "--weights", tiny_model, "-o", out, "--force", *options)
        assert done.returncode == 0, done.stderr
        with Image.open(out) as image:
            return dict(image.info)

    kept_info, stripped_info = decoded(), decoded("--strip")
    assert kept_info["icc_profile"] == PROFILE and "exif" in kept_info
    assert "icc_profile" not in stripped_info and "exif" not in stripped_info
    done = cli("decompress", kept, "--weights", tiny_model, "-o", tmp_path / "out.bmp")
    assert done.returncode == 0
    assert done.stderr.startswith(f"warning: {tmp_path / 'out.bmp'}: BMP cannot store the ICC")

import io
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from aecodec.errors import OutputExists, UnsupportedImage
from aecodec.image import encode_picture, read_picture, save_picture, to_pil
from tests.conftest import smooth_image

CHANNELS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}
SIZES = [(1, 1), (3, 5), (5, 3), (10000, 16), (16, 10000)]  # (width, height)


def random_pixels(layout, width, height, seed=0):
    shape = (height, width, CHANNELS[layout]) if layout != "L" else (height, width)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def png_bytes(width, height, bit_depth, colour_type, payload):
    """A PNG built by hand: Pillow cannot write 16-bit RGB, nor headers that lie."""

    def chunk(kind, data):
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(payload))
        + chunk(b"IEND", b"")
    )


def png16(values, colour_type):
    height, width = values.shape[:2]
    rows = values.reshape(height, -1).astype(">u2")
    payload = b"".join(b"\0" + row.tobytes() for row in rows)  # filter byte 0 per row
    return png_bytes(width, height, 16, colour_type, payload)


# Layouts and round trips


@pytest.mark.parametrize("layout", CHANNELS)
@pytest.mark.parametrize("width, height", SIZES)
def test_every_layout_round_trips_exactly_through_a_file(tmp_path, layout, width, height):
    pixels = random_pixels(layout, width, height)
    Image.fromarray(pixels).save(tmp_path / "in.png")
    picture = read_picture(tmp_path / "in.png")
    assert picture.layout == layout
    assert picture.rgb.shape == (height, width, 3) and picture.rgb.dtype == np.uint8
    assert (picture.alpha is not None) == layout.endswith("A")
    assert picture.warnings == []
    back = to_pil(picture.rgb, picture.alpha, picture.layout)
    assert back.mode == layout
    assert np.array_equal(np.asarray(back), pixels)


def test_gray_is_replicated_to_three_channels():
    gray = random_pixels("L", 4, 3)
    picture = read_picture(Image.fromarray(gray))
    assert all(np.array_equal(picture.rgb[..., c], gray) for c in range(3))


def test_gray_back_from_lossy_rgb_is_the_rounded_mean():
    rgb = np.array([[[10, 11, 11], [10, 10, 11], [0, 0, 255]]], dtype=np.uint8)
    assert np.asarray(to_pil(rgb, None, "L")).tolist() == [[11, 10, 85]]


def test_rgba_alpha_survives_exactly(tmp_path):
    pixels = random_pixels("RGBA", 7, 6)
    pixels[0, :, 3] = 0  # fully transparent pixels whose colour must survive too
    pixels[1, :, 3] = 255
    for suffix in (".png", ".webp", ".tiff"):
        save_picture(Image.fromarray(pixels), tmp_path / f"out{suffix}")
        picture = read_picture(tmp_path / f"out{suffix}")
        assert np.array_equal(picture.alpha, pixels[..., 3]), suffix
        assert np.array_equal(picture.rgb, pixels[..., :3]), suffix


# Pillow modes


@pytest.mark.parametrize("transparent", [False, True])
def test_palette_image_becomes_rgb_or_rgba(tmp_path, transparent):
    image = Image.new("P", (3, 2))
    image.putpalette([255, 0, 0, 0, 255, 0])
    image.putpixel((1, 1), 1)
    if transparent:
        image.info["transparency"] = 0
    image.save(tmp_path / "p.png")
    picture = read_picture(tmp_path / "p.png")
    assert picture.layout == ("RGBA" if transparent else "RGB")
    assert picture.rgb[1, 1].tolist() == [0, 255, 0] and picture.rgb[0, 0].tolist() == [255, 0, 0]
    if transparent:
        assert picture.alpha.tolist() == [[0, 0, 0], [0, 255, 0]]


def test_bilevel_image_becomes_gray():
    image = Image.fromarray(np.array([[True, False]])).convert("1")
    picture = read_picture(image)
    assert picture.layout == "L" and picture.rgb[..., 0].tolist() == [[255, 0]]


@pytest.mark.parametrize("mode", ["CMYK", "YCbCr", "HSV", "LAB", "RGBX"])
def test_other_colour_spaces_become_rgb(mode):
    image = Image.fromarray(random_pixels("RGB", 4, 3)).convert(mode)
    picture = read_picture(image)
    assert picture.layout == "RGB" and picture.alpha is None
    assert np.array_equal(picture.rgb, np.asarray(image.convert("RGB")))


@pytest.mark.parametrize(
    "colour_type, channels, layout", [(0, 1, "L"), (2, 3, "RGB"), (4, 2, "LA"), (6, 4, "RGBA")]
)
def test_16bit_png_reduced_with_warning(tmp_path, colour_type, channels, layout):
    values = np.random.default_rng(1).integers(0, 65536, (5, 4, channels), dtype=np.uint16)
    (tmp_path / "deep.png").write_bytes(png16(values, colour_type))
    picture = read_picture(tmp_path / "deep.png")
    assert picture.layout == layout
    assert picture.warnings == ["16-bit image reduced to 8 bits"]
    high = (values >> 8).astype(np.uint8)
    back = np.asarray(to_pil(picture.rgb, picture.alpha, picture.layout))
    assert np.array_equal(back, high[..., 0] if channels == 1 else high)


@pytest.mark.parametrize("mode, dtype", [("I;16", "<u2"), ("I;16B", ">u2"), ("I", "<i4")])
def test_16bit_gray_modes_keep_the_high_byte(mode, dtype):
    values = np.array([0, 257, 65535, 40000], dtype=dtype)
    picture = read_picture(Image.frombytes(mode, (4, 1), values.tobytes()))
    assert picture.layout == "L" and "16-bit image reduced to 8 bits" in picture.warnings
    assert picture.rgb[..., 0].tolist() == [[0, 1, 255, 156]]


def test_float_image_clipped_and_rounded_with_warning():
    picture = read_picture(Image.fromarray(np.array([[-5.0, 12.4, 300.0]], dtype=np.float32)))
    assert picture.rgb[..., 0].tolist() == [[0, 12, 255]]
    assert picture.warnings == [
        "values outside 0..255 clipped",
        "floating-point image rounded to 8 bits",
    ]


@pytest.mark.parametrize("orientation, turns", [(3, 2), (6, -1), (8, 1)])
def test_exif_orientation_applied(tmp_path, orientation, turns):
    pixels = random_pixels("RGB", 5, 3)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(tmp_path / "photo.png", exif=exif)
    picture = read_picture(tmp_path / "photo.png")
    assert np.array_equal(picture.rgb, np.rot90(pixels, turns))  # positive turns: anticlockwise


def test_animated_image_gives_its_first_frame_with_warning(tmp_path):
    frames = [Image.new("RGB", (4, 4), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.png", save_all=True, append_images=frames[1:])
    picture = read_picture(tmp_path / "anim.png")
    assert picture.rgb[0, 0].tolist() == [255, 0, 0]
    assert picture.warnings == ["image has 2 frames; only the first is used"]


def test_caller_image_is_rotated_in_a_copy():
    image = Image.fromarray(random_pixels("RGB", 5, 3))
    image.getexif()[0x0112] = 6
    picture = read_picture(image)
    assert picture.rgb.shape == (5, 3, 3)  # rotated to portrait
    assert image.size == (5, 3) and image.getexif()[0x0112] == 6


@pytest.mark.parametrize("mode, layout", [("La", "LA"), ("RGBa", "RGBA"), ("PA", "RGBA")])
def test_premultiplied_and_palette_alpha_modes_keep_alpha(mode, layout):
    picture = read_picture(Image.new(mode, (2, 2)))
    assert picture.layout == layout and picture.alpha.shape == (2, 2)


# numpy input


@pytest.mark.parametrize(
    "shape, layout",
    [((3, 4), "L"), ((3, 4, 1), "L"), ((3, 4, 2), "LA"), ((3, 4, 3), "RGB"), ((3, 4, 4), "RGBA")],
)
def test_array_shape_decides_the_layout(shape, layout):
    array = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    picture = read_picture(array)
    assert picture.layout == layout and picture.warnings == []
    assert np.array_equal(np.asarray(to_pil(picture.rgb, picture.alpha, layout)), array.squeeze())
    array[...] = 0
    assert picture.rgb.any()  # the picture owns its pixels


def test_uint16_array_reduced_with_warning():
    picture = read_picture(np.full((2, 2, 3), 65535, dtype=np.uint16))
    assert (picture.rgb == 255).all() and picture.warnings == ["16-bit image reduced to 8 bits"]


def test_float_array_is_taken_as_zero_to_one():
    levels = np.arange(256, dtype=np.float64) / 255
    picture = read_picture(levels.reshape(16, 16))
    assert picture.rgb[..., 0].ravel().tolist() == list(range(256))
    assert picture.warnings == []


def test_float_array_out_of_range_is_clipped_with_warning():
    picture = read_picture(np.array([[-0.5, 1.5]], dtype=np.float32))
    assert picture.rgb[..., 0].tolist() == [[0, 255]]
    assert picture.warnings == ["values outside 0..1 clipped"]


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((2, 2), dtype=np.int64),
        np.zeros((2, 2), dtype=bool),
        np.zeros((2, 2, 5), dtype=np.uint8),
        np.zeros(4, dtype=np.uint8),
        np.array([[np.nan]], dtype=np.float32),
        np.zeros((0, 3, 3), dtype=np.uint8),
    ],
    ids=["int64", "bool", "5-channels", "1-d", "nan", "empty"],
)
def test_unsupported_arrays_are_refused(array):
    with pytest.raises(UnsupportedImage, match="the array"):
        read_picture(array)


# Errors name the file


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(UnsupportedImage, match="photo.png does not exist"):
        read_picture(tmp_path / "photo.png")


def test_text_file_is_not_an_image(tmp_path):
    (tmp_path / "photo.txt").write_text("hello")
    with pytest.raises(UnsupportedImage, match="photo.txt is not an image Pillow can read"):
        read_picture(tmp_path / "photo.txt")


def test_empty_file_is_a_clear_error(tmp_path):
    (tmp_path / "photo.png").write_bytes(b"")
    with pytest.raises(UnsupportedImage, match="photo.png is an empty file"):
        read_picture(tmp_path / "photo.png")


def test_truncated_png_is_a_clear_error(tmp_path):
    Image.fromarray(random_pixels("RGB", 64, 64)).save(tmp_path / "photo.png")
    data = (tmp_path / "photo.png").read_bytes()
    (tmp_path / "photo.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(UnsupportedImage, match="photo.png has truncated or corrupt image data"):
        read_picture(tmp_path / "photo.png")


def test_image_without_pixels_is_refused():
    with pytest.raises(UnsupportedImage, match="has no pixels \\(0x3\\)"):
        read_picture(Image.new("RGB", (0, 3)))


def test_huge_image_is_refused_from_its_header_before_decoding(tmp_path):
    # The header claims 10 gigapixels over one row of data: decoding would need 10 GB.
    (tmp_path / "bomb.png").write_bytes(png_bytes(100000, 100000, 8, 0, b"\0" * 100001))
    message = "bomb.png is 100000x100000 = 10 gigapixels, over the 89-megapixel limit"
    with pytest.raises(UnsupportedImage, match=message):
        read_picture(tmp_path / "bomb.png")


def test_max_pixels_is_ours_not_pillows(tmp_path, monkeypatch):
    Image.fromarray(random_pixels("RGB", 20, 20)).save(tmp_path / "in.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow alone would refuse 400 pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_picture(tmp_path / "in.png").rgb.shape == (20, 20, 3)
    with pytest.raises(UnsupportedImage, match="is 20x20 = 400 pixels, over the 399-pixel limit"):
        read_picture(tmp_path / "in.png", max_pixels=399)
    assert Image.MAX_IMAGE_PIXELS == 100  # put back after success and failure alike


# Saving


@pytest.mark.parametrize("suffix", [".png", ".webp", ".tif", ".tiff", ".bmp", ".PNG"])
@pytest.mark.parametrize("layout", CHANNELS)
def test_lossless_formats_round_trip_exactly(tmp_path, suffix, layout):
    if suffix == ".bmp" and layout.endswith("A"):
        pytest.skip("BMP has no transparency")
    pixels = random_pixels(layout, 7, 5)
    save_picture(Image.fromarray(pixels), tmp_path / f"out{suffix}")
    picture = read_picture(tmp_path / f"out{suffix}")
    # WebP has no gray: L and LA come back as RGB(A) with equal channels, same pixels.
    back = np.asarray(to_pil(picture.rgb, picture.alpha, picture.layout).convert(layout))
    assert np.array_equal(back, pixels)


def test_jpeg_is_written_close_to_the_original(tmp_path):
    pixels = np.full((8, 8, 3), (200, 100, 50), dtype=np.uint8)
    save_picture(Image.fromarray(pixels), tmp_path / "out.jpg")
    back = read_picture(tmp_path / "out.jpg").rgb.astype(int)
    assert np.abs(back - pixels).max() <= 2


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".bmp"])
def test_transparency_into_a_format_without_it_is_refused(tmp_path, suffix):
    with pytest.raises(UnsupportedImage, match="cannot store transparency; use .png, .webp"):
        save_picture(Image.new("RGBA", (2, 2)), tmp_path / f"out{suffix}")
    assert list(tmp_path.iterdir()) == []


def test_unknown_extension_lists_the_known_ones(tmp_path):
    with pytest.raises(UnsupportedImage, match=r"out.xyz: unknown image extension '.xyz'; use one"):
        save_picture(Image.new("RGB", (2, 2)), tmp_path / "out.xyz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".png", ".webp", ".jxl", ".tiff"])
@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_lossless_outputs_give_the_pixels_back(tmp_path, suffix, mode):
    if suffix == ".jxl":
        pytest.importorskip("pillow_jxl")
    pixels = smooth_image(12, 10, len(mode))
    image = Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode)
    save_picture(image, tmp_path / f"out{suffix}")
    with Image.open(tmp_path / f"out{suffix}") as back:
        assert np.array_equal(np.asarray(back.convert(mode)), np.asarray(image))


@pytest.mark.parametrize("suffix", [".jpg", ".webp", ".avif", ".jxl"])
def test_a_quality_makes_lossy_outputs_smaller(tmp_path, suffix):
    if suffix == ".jxl":
        pytest.importorskip("pillow_jxl")
    image = Image.fromarray(smooth_image(64, 64))
    default, _ = encode_picture(image, suffix)
    low, _ = encode_picture(image, suffix, quality=30)
    assert len(low) < len(default) * 0.8
    with Image.open(io.BytesIO(low)) as back:  # still the same picture, a little worse
        error = np.abs(np.asarray(back.convert("RGB"), float) - np.asarray(image, float))
    assert back.size == (64, 64) and 0 < error.mean() < 12


@pytest.mark.parametrize("suffix", [".png", ".tif", ".bmp"])
def test_a_quality_for_a_lossless_only_format_is_refused(tmp_path, suffix):
    with pytest.raises(UnsupportedImage, match=f"{suffix} is always lossless"):
        save_picture(Image.new("RGB", (2, 2)), tmp_path / f"out{suffix}", quality=50)
    assert list(tmp_path.iterdir()) == []


def test_gray_avif_stays_gray(tmp_path):
    data, _ = encode_picture(Image.fromarray(smooth_image(16, 16, 1)[..., 0]), ".avif", 60)
    with Image.open(io.BytesIO(data)) as back:
        assert back.mode == "L"


def test_image_bytes_are_read_like_a_file(image_path):
    from_bytes = read_picture(image_path.read_bytes(), name="standard input")
    assert np.array_equal(from_bytes.rgb, read_picture(image_path).rgb)
    with pytest.raises(UnsupportedImage, match="^standard input is not an image Pillow can read"):
        read_picture(b"GIF87a but not really", name="standard input")
    with pytest.raises(UnsupportedImage, match="^standard input is an empty file"):
        read_picture(b"", name="standard input")


def test_existing_output_is_not_overwritten_without_force(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"precious")
    with pytest.raises(OutputExists, match="use --force to overwrite"):
        save_picture(Image.new("RGB", (2, 2)), target)
    assert target.read_bytes() == b"precious"
    save_picture(Image.new("RGB", (2, 2)), target, force=True)
    assert read_picture(target).rgb.shape == (2, 2, 3)


@pytest.mark.parametrize("side", [13000, 16384])  # 169 and 268 megapixels
def test_pillows_limit_is_the_default(tmp_path, side):
    (tmp_path / "big.png").write_bytes(png_bytes(side, side, 8, 0, b"\0" * (side + 1)))
    with pytest.raises(UnsupportedImage, match=f"big.png is {side}x{side} = .* over the 89-"):
        read_picture(tmp_path / "big.png")

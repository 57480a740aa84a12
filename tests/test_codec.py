"""The public API: any image in, the same kind of image out, exactly reproducible."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import aecodec
from aecodec import bitstream
from aecodec.errors import (
    AecodecError,
    BitstreamError,
    ModelError,
    OutOfMemory,
    TargetUnreachable,
    UnsupportedImage,
)
from aecodec.latent.hyperprior import HyperpriorCodec
from aecodec.metrics import psnr
from tests.conftest import smooth_image

CODED = (8, 520)  # (h, w): a small image just over the size that is stored instead of coded
SIZE = CODED[::-1]  # (width, height), as a header gives them


@pytest.mark.parametrize("layout", ["L", "LA", "RGB", "RGBA"])
@pytest.mark.parametrize("size", [(1, 1), (3, 5), (17, 9), (65, 130)])
def test_round_trip_keeps_layout_size_and_alpha(tiny_model, layout, size):
    h, w = size
    pixels = smooth_image(h, w, len(layout), seed=h * w)
    image = Image.fromarray(pixels[..., 0] if layout == "L" else pixels, layout)
    out = aecodec.decompress(
        aecodec.compress(image, quality=50, weights=tiny_model), weights=tiny_model
    )
    assert out.mode == layout and out.size == (w, h)
    if "A" in layout:  # alpha is lossless
        assert np.array_equal(np.asarray(out)[..., -1], pixels[..., -1])


def test_numpy_arrays_are_accepted(tiny_model):
    pixels = smooth_image(20, 30)
    out = aecodec.decompress(
        aecodec.compress(pixels, quality=90, weights=tiny_model), weights=tiny_model
    )
    assert np.asarray(out).shape == (20, 30, 3)


def test_long_strip_round_trips(tiny_model):
    pixels = smooth_image(16, 3000)
    out = aecodec.decompress(aecodec.compress(pixels, weights=tiny_model), weights=tiny_model)
    assert out.size == (3000, 16)


@pytest.mark.slow
def test_shipped_model_reconstructs_well_and_rate_and_quality_grow_with_the_knob():
    pixels = smooth_image(64, 96)
    sizes, qualities = [], []
    for quality in range(0, 101, 10):
        data = aecodec.compress(pixels, quality=quality)
        sizes.append(len(data))
        qualities.append(psnr(np.asarray(aecodec.decompress(data)), pixels))
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    assert qualities == sorted(qualities) and qualities[-1] > 30


@pytest.mark.slow
def test_decoding_is_identical_in_another_process_with_other_threads_and_no_onednn(
    tiny_model, tmp_path
):
    data = aecodec.compress(smooth_image(70, 90), quality=60, weights=tiny_model)
    (tmp_path / "x.aec").write_bytes(data)
    expected = np.asarray(aecodec.decompress(data, weights=tiny_model))
    script = (
        "import sys, torch, numpy as np, aecodec\n"
        "torch.set_num_threads(2); torch.backends.mkldnn.enabled = False\n"
        "img = aecodec.decompress(open(sys.argv[1], 'rb').read(), weights=sys.argv[3])\n"
        "np.save(sys.argv[2], np.asarray(img))\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}  # the suite runs on 1
    args = [str(tmp_path / "x.aec"), str(tmp_path / "y.npy"), tiny_model]
    subprocess.run([sys.executable, "-c", script, *args], check=True, env=env)
    assert np.array_equal(np.load(tmp_path / "y.npy"), expected)


def test_every_single_byte_corruption_ends_in_a_clean_error(tiny_model):
    data = aecodec.compress(smooth_image(*CODED), weights=tiny_model)
    for i in range(len(data)):
        corrupted = bytearray(data)
        corrupted[i] ^= 0x5A
        with pytest.raises(AecodecError):
            aecodec.decompress(bytes(corrupted), weights=tiny_model)


def test_truncated_file_is_a_clean_error(tiny_model):
    data = aecodec.compress(smooth_image(*CODED), weights=tiny_model)
    for n in (0, 3, len(data) // 2, len(data) - 1):
        with pytest.raises(BitstreamError):
            aecodec.decompress(data[:n], weights=tiny_model)


def test_file_from_other_weights_is_refused(tiny_model):
    header, payloads = bitstream.unpack(aecodec.compress(smooth_image(*CODED), weights=tiny_model))
    forged = bitstream.Header(header.model, b"\0" * 8, header.quality, *SIZE, header.layout)
    with pytest.raises(ModelError, match="other weights"):
        aecodec.decompress(bitstream.pack(forged, payloads), weights=tiny_model)


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ModelError, match="codec model 'nope' is not installed"):
        aecodec.compress(smooth_image(8, 8), model="nope")


def test_quality_outside_0_to_100_is_refused(tiny_model):
    with pytest.raises(ValueError, match="between 0 and 100"):
        aecodec.compress(smooth_image(8, 8), quality=101, weights=tiny_model)


def test_target_size_is_met_within_3_percent_below():
    pixels = smooth_image(96, 128, seed=3)
    smallest, largest = (len(aecodec.compress(pixels, quality=q)) for q in (0, 100))
    target = (smallest + largest) // 2
    size = len(aecodec.compress(pixels, size=target))
    assert 0.97 * target <= size <= target


def test_a_target_out_of_reach_is_an_error_unless_the_closest_file_is_asked_for(tiny_model):
    from aecodec.codec import compress_picture
    from aecodec.image import read_picture

    picture = read_picture(smooth_image(64, 96))
    with pytest.raises(TargetUnreachable, match=r"cannot reach 1 bytes: the smallest file \(qu"):
        compress_picture(picture, bpp=0.001, weights=tiny_model)
    result = compress_picture(picture, bpp=0.001, weights=tiny_model, closest=True)
    assert result.header.quality == 0 and "cannot reach" in result.warnings[-1]


def test_file_naming_a_model_that_is_not_installed_is_refused(tiny_model):
    header, payloads = bitstream.unpack(aecodec.compress(smooth_image(*CODED), weights=tiny_model))
    forged = bitstream.Header("not-installed", header.weights_hash, 50, *SIZE, header.layout)
    with pytest.raises(ModelError, match="codec model 'not-installed' is not installed"):
        aecodec.decompress(bitstream.pack(forged, payloads))


def test_absurd_dimensions_in_a_valid_header_are_refused_before_decoding(tiny_model):
    header, payloads = bitstream.unpack(aecodec.compress(smooth_image(*CODED), weights=tiny_model))
    huge = bitstream.Header(header.model, header.weights_hash, 50, 30000, 30000, header.layout)
    with pytest.raises(UnsupportedImage, match="30000x30000 = 900 megapixels, over the 89-"):
        aecodec.decompress(bitstream.pack(huge, payloads), weights=tiny_model)


def test_crafted_payloads_with_valid_checksums_end_in_a_clean_error(tiny_model):
    header, payloads = bitstream.unpack(aecodec.compress(smooth_image(40, 60), weights=tiny_model))
    rng = np.random.default_rng(0)
    for trial in range(40):
        forged = list(payloads)
        forged[1 + trial % 2] = rng.integers(0, 256, trial, dtype=np.uint8).tobytes()  # 0: grid
        # Only the encoder's own bytes decode: random ones fail the re-coding check, at the latest
        with pytest.raises(BitstreamError, match="corrupted latent stream"):
            aecodec.decompress(bitstream.pack(header, forged), weights=tiny_model)


# Files written by each default (formats 1, 2, 4, then 5), and the SHA-256 of their pixels
GOLDEN = {
    "hyperprior-vr": "395fd5a3cef89a2290ddf3436a979b88c2f056b40bcaa010927d485599f52304",
    "hyperprior-cb": "46d5ef68f41a086799643a13a9441e9f9fc8949ef68656d85c95b76eec2b79ac",
    "hyperprior-cb-wide": "2576c33c06657bbde082b97db2d886a6cc2e143282f0c8cf1122aa156c59c966",
    "hyperprior-sc-wide": "b8d811e2a7f94bef5d0484b4f220acba0419267d5444420591782e2dc0274e13",
    "hyperprior-sc-joint": "377cef41e22fae1e2dbc72af2d02cbc4bc4589dbef6bafa4ff6855212d78dff3",
    "v2-hyperprior-sc-joint": "4298434878bd092a674f98cf7057ec04786993a5caf7237877629d12a8251a7e",
    "v4-hyperprior-sc-joint": "af0a31ae5cb4619c892cba02e225b02e38013f941d3f03178a565aec1733a4ba",
    "v5-hyperprior-sc-joint": "9d8ee2093ff9e57188ed01d7cbfb6d84b7a0b59b9a1f25e342b5273601c4517a",
}


ARCHIVE = Path(__file__).parent.parent / "models"  # superseded models, kept out of the package


@pytest.mark.slow
@pytest.mark.parametrize("name", GOLDEN)
def test_a_file_written_earlier_still_decodes_to_the_same_pixels(name):
    # If this fails, old .aec files no longer decode as they did: a change reached the tables,
    # the integer path (hyperprior and context), the table choice or the synthesis.
    data = (Path(__file__).parent / "data" / f"golden-{name}.aec").read_bytes()
    model = bitstream.unpack(data)[0].model
    archived = ARCHIVE / f"{model}.safetensors"
    pixels = np.asarray(aecodec.decompress(data, weights=archived if archived.exists() else None))
    assert pixels.shape == (48, 80, 3)
    assert hashlib.sha256(pixels.tobytes()).hexdigest() == GOLDEN[name]


@pytest.mark.slow
def test_a_file_of_two_latent_tiles_still_decodes_to_the_same_pixels():
    # smooth_image(64, 2112, seed=6) at quality 50, format 6: 2112 pixels are two tiles of y
    data = (Path(__file__).parent / "data" / "golden-v6-hyperprior-sc-joint.aec").read_bytes()
    pixels = np.asarray(aecodec.decompress(data))
    assert pixels.shape == (64, 2112, 3)
    assert hashlib.sha256(pixels.tobytes()).hexdigest() == (
        "cd2a1984ae2688302302d463f65bd97b32d9a2dd18f354dd1bdd4d9bb0f8711d"
    )


@pytest.mark.parametrize("tile", [1, 2])
def test_a_latent_coded_in_tiles_round_trips_at_about_the_same_rate(tiny_model, tile, monkeypatch):
    # 150x200 pixels: a hyper-latent of 3x4 samples, in 12 tiles of one or 4 of up to two
    pixels = smooth_image(150, 200)

    def coded() -> tuple[bytes, float]:
        data = aecodec.compress(pixels, quality=60, weights=tiny_model)
        return data, psnr(np.asarray(aecodec.decompress(data, weights=tiny_model)), pixels)

    whole, whole_psnr = coded()
    monkeypatch.setattr(bitstream, "LATENT_TILE", tile)  # a file's tiles are its format's
    tiled, tiled_psnr = coded()
    assert tiled != whole and len(tiled) < 1.2 * len(whole)
    assert abs(tiled_psnr - whole_psnr) < 0.5


def test_fast_decoding_of_a_version_4_file_is_the_exact_decoding(tiny_model):
    data = aecodec.compress(smooth_image(70, 90), quality=60, weights=tiny_model)
    exact = np.asarray(aecodec.decompress(data, weights=tiny_model))
    assert np.array_equal(
        np.asarray(aecodec.decompress(data, weights=tiny_model, exact=False)), exact
    )


@pytest.mark.slow
def test_fast_decoding_of_a_version_2_file_is_within_one_level_of_its_exact_decoding():
    data = (Path(__file__).parent / "data" / "golden-v2-hyperprior-sc-joint.aec").read_bytes()
    exact = np.asarray(aecodec.decompress(data)).astype(int)
    fast = np.asarray(aecodec.decompress(data, exact=False)).astype(int)
    assert np.abs(fast - exact).max() <= 1 and (fast != exact).mean() < 1e-3


def test_a_tiny_file_claiming_a_huge_image_is_refused_before_any_work(tiny_model):
    header, _ = bitstream.unpack(aecodec.compress(smooth_image(*CODED), weights=tiny_model))
    bomb = bitstream.Header(header.model, header.weights_hash, 50, 16384, 16384, "RGB")
    data = bitstream.pack(bomb, [b""] * 3)
    with pytest.raises(UnsupportedImage, match="16384x16384 = 268 megapixels, over the 89-"):
        aecodec.decompress(data, weights=tiny_model)
    with pytest.raises(UnsupportedImage, match="over the 1-megapixel limit"):
        aecodec.decompress(data, weights=tiny_model, max_pixels=10**6)


@pytest.mark.parametrize("side", [64, 1024])
def test_empty_payloads_are_corrupt_whatever_size_they_claim(tiny_model, side):
    data = aecodec.compress(smooth_image(*CODED), weights=tiny_model)
    header, payloads = bitstream.unpack(data)
    claim = bitstream.Header(header.model, header.weights_hash, 50, side, side, "RGB", 4)
    empty = bitstream.pack(claim, payloads[:1] + [b""] * (len(payloads) - 1))
    with pytest.raises(BitstreamError, match="the stream is empty, but symbols are coded in it"):
        aecodec.decompress(empty, weights=tiny_model)


def test_payloads_that_end_before_their_symbols_do_are_corrupt(tiny_model):
    header, payloads = bitstream.unpack(aecodec.compress(smooth_image(64, 96), weights=tiny_model))
    claim = bitstream.Header(header.model, header.weights_hash, 50, 1024, 1024, "RGB", 4)
    with pytest.raises(BitstreamError, match="ends before its symbols do"):
        aecodec.decompress(bitstream.pack(claim, payloads), weights=tiny_model)
    for i, payload in enumerate(payloads[1:], start=1):  # payload 0 is the synthesis grid
        cut = list(payloads)
        cut[i] = payload[: len(payload) // 8 * 4]  # whole words, half of them gone
        with pytest.raises(
            BitstreamError,
            match="before its symbols do|does not end where its symbols do|stream is empty",
        ):
            aecodec.decompress(bitstream.pack(header, cut), weights=tiny_model)
        cut[i] = payload + bytes(4)  # a word more than its symbols need
        with pytest.raises(BitstreamError, match="does not end where its symbols do"):
            aecodec.decompress(bitstream.pack(header, cut), weights=tiny_model)
        cut[i] = payload[:-1]
        with pytest.raises(BitstreamError, match="not made of 32-bit words"):
            aecodec.decompress(bitstream.pack(header, cut), weights=tiny_model)


def test_running_out_of_memory_is_not_reported_as_corruption(tiny_model, monkeypatch):
    data = aecodec.compress(smooth_image(*CODED), weights=tiny_model)

    def no_memory(*args):
        raise RuntimeError(
            "[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate"
        )

    monkeypatch.setattr(HyperpriorCodec, "decompress", no_memory)
    with pytest.raises(OutOfMemory, match="not enough memory to decode 520x8 pixels"):
        aecodec.decompress(data, weights=tiny_model)


def test_the_pixel_limit_counts_the_area_the_codec_works_on(tiny_model):
    # 1 x 4096 pixels is coded as 64 x 4096: that, not width x height, is what costs work
    header, payloads = bitstream.unpack(aecodec.compress(smooth_image(*CODED), weights=tiny_model))
    thin = bitstream.Header(header.model, header.weights_hash, 50, 4096, 1, header.layout)
    with pytest.raises(UnsupportedImage, match="4096x1, coded as 4096x64 = 262144 pixels, over"):
        aecodec.decompress(bitstream.pack(thin, payloads), weights=tiny_model, max_pixels=10**5)
    with pytest.raises(UnsupportedImage, match="the image is 4096x1, coded as 4096x64"):
        aecodec.compress(smooth_image(1, 4096), weights=tiny_model, max_pixels=10**5)


# --- Tiny images: their pixels, stored exactly -------------------------------------------------


@pytest.mark.parametrize("layout", ["L", "LA", "RGB", "RGBA"])
def test_a_one_pixel_image_costs_a_few_bytes_and_comes_back_exact(layout):
    pixels = np.array([[[200, 100, 50, 7][: len(layout)]]], np.uint8)
    image = Image.fromarray(pixels[..., 0] if layout == "L" else pixels, layout)
    data = aecodec.compress(image, model="not-even-loaded")  # no coded file is this small
    assert len(data) == 18 + len(layout)  # 14 bytes of head, the pixels, the CRC
    assert bitstream.unpack(data)[0].stored
    back = aecodec.decompress(data)
    assert back.mode == layout and np.array_equal(np.asarray(back), np.asarray(image))


def test_small_images_are_stored_only_when_that_is_no_larger(tiny_model):
    flat = np.full((40, 60, 3), 90, np.uint8)  # deflates to almost nothing: stored, exact
    data = aecodec.compress(flat, weights=tiny_model)
    assert bitstream.unpack(data)[0].stored and len(data) < 60
    assert np.array_equal(np.asarray(aecodec.decompress(data)), flat)
    noise = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    coded = aecodec.compress(noise, quality=0, weights=tiny_model)  # 7 KB of pixels: coded
    assert not bitstream.unpack(coded)[0].stored and len(coded) < 40 * 60
    over = smooth_image(*CODED)  # over the limit: always coded, whatever it costs
    assert not bitstream.unpack(aecodec.compress(over, weights=tiny_model))[0].stored


def test_a_target_that_the_stored_pixels_meet_takes_them(tiny_model):
    pixels = smooth_image(3, 4)
    data = aecodec.compress(pixels, size=100, weights=tiny_model)
    assert bitstream.unpack(data)[0].stored and len(data) <= 100
    with pytest.raises(TargetUnreachable):
        aecodec.compress(pixels, size=20, weights=tiny_model)


def test_stored_pixels_keep_their_metadata_unless_stripped():
    from aecodec.image import read_picture

    image = Image.fromarray(smooth_image(2, 2))
    image.info["icc_profile"] = b"not really a profile"
    picture = read_picture(image)
    picture.metadata = bitstream.Metadata(xmp=b"<x/>")
    from aecodec.codec import compress_picture

    data = compress_picture(picture).data
    assert bitstream.unpack(data)[0].has_metadata
    assert aecodec.decompress(data).info["xmp"] == b"<x/>"
    assert "xmp" not in aecodec.decompress(data, strip=True).info


def test_stored_files_have_no_latents_and_respect_the_pixel_limit():
    from aecodec.codec import decode_latents

    data = aecodec.compress(smooth_image(10, 10))
    with pytest.raises(BitstreamError, match="stores its pixels; it has no latents"):
        decode_latents(data)
    with pytest.raises(UnsupportedImage, match="over the 50-pixel limit"):
        aecodec.decompress(data, max_pixels=50)


def test_the_stored_golden_file_still_decodes_to_the_same_pixels():
    data = (Path(__file__).parent / "data" / "golden-v3-stored.aec").read_bytes()
    header, _ = bitstream.unpack(data)
    assert header.stored and (header.width, header.height, header.layout) == (5, 3, "RGBA")
    pixels = np.asarray(aecodec.decompress(data))
    assert hashlib.sha256(pixels.tobytes()).hexdigest() == GOLDEN_STORED
    assert np.array_equal(pixels, smooth_image(3, 5, 4, seed=5))


GOLDEN_STORED = "303b02145577eabccf57027a0caebc9f380120af5867539b581be9624031db1f"


def test_mutated_stored_files_decode_or_give_a_clean_error():
    # bench/fuzz.py mutates coded files; this does the same for stored ones, checksums mended
    # half of the time so that the mutations reach the fields and the inflater.
    import random
    import struct
    import zlib

    rng = random.Random(0)
    metadata = bitstream.Metadata(icc_profile=b"icc!", xmp=b"<x/>")
    seeds = [
        bitstream.pack(
            bitstream.stored_header(w, h, layout, bool(block)),
            [pixels.tobytes()] + ([block] if block else []),
        )
        for h, w, layout, block in [
            (1, 1, "RGB", b""),
            (5, 7, "RGBA", b""),
            (40, 60, "L", b""),
            (2, 2, "LA", bitstream.pack_metadata(metadata)),
        ]
        for pixels in [smooth_image(h, w, len(layout), seed=h)]
    ]
    outcomes = set()
    for _ in range(2000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data))
            choice = rng.randrange(3)
            if choice == 0:
                data[at] = rng.randrange(256)
            elif choice == 1:
                del data[at : at + rng.randint(1, 4)]
            else:
                data[at:at] = rng.randbytes(rng.randint(1, 4))
        if rng.random() < 0.5 and len(data) > 4:
            data[-4:] = struct.pack(">I", zlib.crc32(bytes(data[:-4])))
        try:
            aecodec.decompress(bytes(data), max_pixels=1 << 16)
            outcomes.add("ok")
        except AecodecError as error:
            outcomes.add(type(error).__name__)
    assert {"ok", "BitstreamError"} <= outcomes

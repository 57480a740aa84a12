"""The numpy decoder gives the torch decoder's images, errors and all, without importing torch."""

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import smooth_image
from PIL import Image

import aecodec
from aecodec import bitstream, decoder
from aecodec.errors import BitstreamError, ModelError

GOLDEN = Path(__file__).parent / "data"


def both(data: bytes, **options) -> tuple[Image.Image, Image.Image]:
    return aecodec.decompress(data, **options), decoder.decompress(data, **options)


def same(a: Image.Image, b: Image.Image) -> bool:
    return a.mode == b.mode and np.array_equal(np.asarray(a), np.asarray(b)) and a.info == b.info


@pytest.mark.parametrize("layout", ["L", "LA", "RGB", "RGBA"])
def test_every_layout_and_context_decodes_to_the_torch_decoders_pixels(tiny_model, layout):
    pixels = smooth_image(37, 70, channels=len(layout), seed=3)
    for quality in (0, 33.33, 100):
        image = Image.fromarray(pixels.squeeze(), layout)
        data = aecodec.compress(image, quality=quality, weights=tiny_model)
        assert same(*both(data, weights=tiny_model))


@pytest.mark.parametrize("tile", [1, 2])
def test_a_latent_in_tiles_decodes_to_the_torch_decoders_pixels(tiny_model, tile, monkeypatch):
    monkeypatch.setattr(bitstream, "LATENT_TILE", tile)  # 150x200: 12 tiles, or 4 of 1-2x2
    data = aecodec.compress(smooth_image(150, 200), quality=50, weights=tiny_model)
    assert same(*both(data, weights=tiny_model))


@pytest.mark.parametrize(
    "name, sha256",
    [
        ("v5", "9d8ee2093ff9e57188ed01d7cbfb6d84b7a0b59b9a1f25e342b5273601c4517a"),
        ("v6", "cd2a1984ae2688302302d463f65bd97b32d9a2dd18f354dd1bdd4d9bb0f8711d"),  # two tiles
    ],
)
def test_the_shipped_model_and_the_golden_files_decode_alike(name, sha256):
    data = (GOLDEN / f"golden-{name}-hyperprior-sc-joint.aec").read_bytes()
    pixels = np.asarray(decoder.decompress(data))
    assert hashlib.sha256(pixels.tobytes()).hexdigest() == sha256


def test_metadata_travels_unless_stripped(tiny_codec):
    from aecodec.codec import compress_picture
    from aecodec.image import read_picture

    picture = read_picture(smooth_image(20, 30))
    picture.metadata = bitstream.Metadata(xmp=b"<x/>")
    data = compress_picture(picture, weights=tiny_codec).data
    kept, stripped = (decoder.decompress(data, weights=tiny_codec, strip=s) for s in (0, 1))
    assert kept.info["xmp"] == b"<x/>" and "xmp" not in stripped.info


def test_it_takes_coded_files_of_version_5_up_to_its_size_alone(tiny_codec):
    header = bitstream.unpack(aecodec.compress(smooth_image(20, 30), weights=tiny_codec))[0]
    assert decoder.decodes(header)
    older = bitstream.unpack((GOLDEN / "golden-v4-hyperprior-sc-joint.aec").read_bytes())[0]
    stored = bitstream.unpack(aecodec.compress(smooth_image(3, 4)))[0]
    large = bitstream.Header(header.model, header.weights_hash, 50, 3000, 2000, "RGB", 5)
    assert not any(decoder.decodes(h) for h in (older, stored, large))


def test_bad_files_get_the_torch_decoders_errors(tiny_model):
    data = aecodec.compress(smooth_image(40, 60), weights=tiny_model)
    header, payloads = bitstream.unpack(data)
    forged = bitstream.pack(header, [payloads[0], b"\x01\x02\x03\x04", *payloads[2:]])
    for bad, error, message in [
        (forged, BitstreamError, "corrupted latent stream"),
        (bitstream.pack(header, payloads[:-1]), BitstreamError, "expected . payloads"),
        (bitstream.pack(header, [b"\x00", *payloads[1:]]), BitstreamError, "synthesis grid"),
    ]:
        for decode in (aecodec.decompress, decoder.decompress):
            with pytest.raises(error, match=message):
                decode(bad, weights=tiny_model)
    with pytest.raises(ModelError, match="other weights"):
        decoder.decompress(aecodec.compress(smooth_image(40, 60)), weights=tiny_model)


def test_the_command_line_decodes_one_file_without_torch(tiny_codec, tmp_path):
    source = tmp_path / "a.aec"
    source.write_bytes(aecodec.compress(smooth_image(40, 60), weights=tiny_codec))
    script = (
        "import sys\nfrom aecodec.cli import main\n"
        f"sys.argv = ['aecodec', 'decompress', {str(source)!r}, '--weights', {tiny_codec!r}]\n"
        "try:\n    main()\nexcept SystemExit as done:\n    assert not done.code, done.code\n"
        "print(sorted({'torch', 'numba'} & set(sys.modules)))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().endswith("[]")
    assert np.array_equal(
        np.asarray(Image.open(tmp_path / "a.png")),
        np.asarray(aecodec.decompress(source.read_bytes(), weights=tiny_codec)),
    )

"""Every classic codec wrapper round-trips an image, and its rate grows with its setting."""

import numpy as np
import pytest
from PIL import Image

from aecodec.eval.codecs import CLASSIC, BenchmarkError, get_codec, unavailable_reason
from aecodec.metrics import psnr


def smooth_image(height: int = 64, width: int = 64, seed: int = 0) -> Image.Image:
    """Gradients plus mild noise: compressible, but not trivially."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    rgb = np.stack([x * 220 + 20, y * 200 + 30, (1 - x) * y * 255], axis=-1)
    rgb += rng.normal(0, 4, rgb.shape)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def codec_or_skip(name: str):
    reason = unavailable_reason(name)
    if reason:
        pytest.skip(reason)
    return get_codec(name)


@pytest.mark.parametrize("name", CLASSIC)
def test_round_trip_keeps_size_and_is_close_to_the_original(name):
    codec = codec_or_skip(name)
    image = smooth_image(48, 64)
    middle = codec.settings[len(codec.settings) // 2]
    decoded = codec.decode(codec.encode(image, middle))
    assert decoded.mode == "RGB" and decoded.size == image.size
    assert psnr(np.asarray(image), np.asarray(decoded)) > 28


@pytest.mark.parametrize("name", CLASSIC)
def test_size_and_quality_grow_with_the_setting(name):
    codec = codec_or_skip(name)
    image = smooth_image()
    original = np.asarray(image)
    sizes, qualities = [], []
    for setting in codec.settings:
        data = codec.encode(image, setting)
        sizes.append(len(data))
        qualities.append(psnr(original, np.asarray(codec.decode(data))))
    # Mostly monotonic: a codec may reorder two neighbours on a tiny image, not more.
    assert sum(b < a for a, b in zip(sizes, sizes[1:], strict=False)) <= 1, sizes
    assert sizes[-1] > 2 * sizes[0], sizes
    assert qualities[-1] > qualities[0] + 2, qualities


@pytest.mark.parametrize("name", CLASSIC)
def test_every_codec_describes_its_exact_settings(name):
    codec = codec_or_skip(name)
    assert codec.name == name
    assert str(list(codec.settings)) in codec.description


def test_the_learned_codec_plugs_in_like_the_others():
    codec = codec_or_skip("aec")
    image = smooth_image()
    low, high = (codec.encode(image, q) for q in (codec.settings[0], codec.settings[-1]))
    decoded = codec.decode(high)
    assert decoded.mode == "RGB" and decoded.size == image.size
    assert len(high) > len(low)
    assert psnr(np.asarray(image), np.asarray(decoded)) > 28


def test_an_unknown_codec_is_refused_with_the_known_names():
    assert "jpeg" in unavailable_reason("bpg")
    with pytest.raises(BenchmarkError, match="unknown codec"):
        get_codec("bpg")


def test_only_aec_takes_a_model_name():
    with pytest.raises(BenchmarkError, match="only aec"):
        get_codec("jpeg:fast")


@pytest.mark.parametrize("name", ["jpeg@3", "aec@10", "aec@x", "aec:hyperprior-sc-joint@-1"])
def test_only_aec_takes_an_effort_and_only_0_to_9(name):
    with pytest.raises(BenchmarkError, match="only aec takes an effort, 0 to 9"):
        get_codec(name)


def test_an_effort_names_the_codec_and_its_description():
    codec = codec_or_skip("aec@4")
    assert codec.name == "aec@4" and "effort 4" in codec.description

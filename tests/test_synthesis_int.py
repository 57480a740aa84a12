"""The integer synthesis: exact by construction, close to the float one, tiles without seams."""

import functools

import pytest
import torch

import aecodec
from aecodec import bitstream
from aecodec.errors import BitstreamError
from aecodec.nn import synthesis_int
from aecodec.nn.synthesis_int import IntegerSynthesis, gain_grid, grid_for
from aecodec.nn.tiling import tiled
from aecodec.zoo import load_model
from tests.conftest import smooth_image

one_model = pytest.mark.parametrize("tiny_model", ["hyperprior-tiny"], indirect=True)


def synthesis_and_input(tiny_model, h=6, w=9, seed=0):
    net = load_model(weights=tiny_model).model
    generator = torch.Generator().manual_seed(seed)
    y_hat = torch.randint(-6, 7, (1, net.config.M, h, w), generator=generator).float()
    inverse_gain = gain_grid(net.gains(60)[1])
    with torch.no_grad():
        grid = grid_for(net.g_s, y_hat * net.gains(60)[1])
    synthesis = IntegerSynthesis(net.g_s)
    return net, functools.partial(synthesis, grid=tuple(grid)), y_hat, inverse_gain


@one_model
def test_pixels_are_close_to_the_float_synthesis(tiny_model):
    net, synthesis, y_hat, inverse_gain = synthesis_and_input(tiny_model)
    pixels = synthesis(y_hat, inverse_gain)
    assert pixels.dtype == torch.uint8 and pixels.shape == (1, 3, 96, 144)
    with torch.no_grad():
        reference = net.g_s(y_hat * inverse_gain.float()[:, None, None]).clamp(0, 1).mul(255)
    difference = (pixels.float() - reference.round()).abs()
    assert difference.max() <= 3 and difference.mean() < 0.1


@one_model
def test_tiles_give_exactly_the_whole_image(tiny_model):
    _, synthesis, y_hat, inverse_gain = synthesis_and_input(tiny_model, h=13, w=11)
    whole = synthesis(y_hat, inverse_gain)
    tiles = tiled(lambda y: synthesis(y, inverse_gain), y_hat, 16, tile=4, margin=2)
    assert torch.equal(tiles, whole)


@one_model
@pytest.mark.parametrize("kind", ["int8", "float32", "float64"])
def test_every_kind_of_products_gives_the_same_pixels(tiny_model, monkeypatch, kind):
    _, synthesis, y_hat, inverse_gain = synthesis_and_input(tiny_model, seed=1)
    expected = synthesis(y_hat, inverse_gain)
    monkeypatch.setattr(synthesis_int, "_product_kind", lambda: kind)
    assert torch.equal(synthesis(y_hat, inverse_gain), expected)


def test_float32_products_give_way_to_float64_where_precision_is_lowered(monkeypatch):
    monkeypatch.setattr(synthesis_int, "_fastest_kind", lambda: "float32")
    assert synthesis_int._product_kind() == "float32"
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("medium")
    try:
        assert synthesis_int._product_kind() == "float64"
    finally:
        torch.set_float32_matmul_precision(previous)


def test_int8_products_are_checked_against_float64():
    assert synthesis_int._int8_products_exact()  # torch's int8 products are exact on this CPU


def test_float32_products_stay_exact_past_two_to_the_24():
    # 1152 products of 127 x 127 sum to an odd number above 2^24: one float32 sum would round
    a = torch.full((3, 1152), 127, dtype=torch.int8)
    b = torch.cat([a[:1], torch.full((1, 1152), -128, dtype=torch.int8)])
    a[1, ::2] = -128
    expected = (a.to(torch.float64) @ b.t().to(torch.float64)).to(torch.int32)
    assert expected.abs().max() > 2**24
    assert torch.equal(synthesis_int._float32_mm(a, b), expected)
    assert synthesis_int._product_kind() in ("int8", "float32")


@one_model
def test_gains_on_their_grid_do_not_move_with_the_last_bit(tiny_model):
    gains = load_model(weights=tiny_model).model.gains(37.5)[1].double().flatten()
    nudged = torch.nextafter(gains, torch.full_like(gains, 2.0))
    assert torch.equal(gain_grid(gains), gain_grid(nudged))
    assert (gain_grid(gains) / gains - 1).abs().max() < 2.0**-19


@one_model
def test_a_grid_that_does_not_fit_the_model_is_a_clean_error(tiny_model):
    data = aecodec.compress(smooth_image(40, 60), weights=tiny_model)
    header, payloads = bitstream.unpack(data)
    assert header.format_version == bitstream.FORMAT_VERSION and len(payloads[0]) == 7
    for grid, message in [(payloads[0][:-1], "6 layers"), (bytes([100] * 7), "outside -40..8")]:
        forged = bitstream.pack(header, [grid, *payloads[1:]])
        with pytest.raises(BitstreamError, match=message):
            aecodec.decompress(forged, weights=tiny_model)
    with pytest.raises(BitstreamError, match="no payloads"):
        aecodec.decompress(bitstream.pack(header, []), weights=tiny_model)

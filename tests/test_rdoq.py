"""Rate-distortion optimised quantisation: the encoder's choice of symbols."""

import numpy as np
import pytest
import torch

import aecodec
from aecodec.codec import analyse, cached_model
from aecodec.entropy.gaussian import GaussianConditional
from aecodec.image import read_picture
from aecodec.latent import rdoq
from aecodec.zoo import DEFAULT_MODEL, load_model
from tests.conftest import smooth_image

TABLES = GaussianConditional.freeze()


def cost(q, v, indexes, tau):
    return rdoq.symbol_costs(q, indexes, TABLES) + tau * (q - v).square()


@pytest.mark.parametrize("tau", [0.5, 4.0, 30.0])
def test_each_symbol_is_rounded_or_one_step_nearer_zero_whichever_costs_less(tau):
    generator = torch.Generator().manual_seed(0)
    v = torch.randn(4000, generator=generator, dtype=torch.float64) * 3
    indexes = torch.randint(0, 40, (4000,), generator=generator)
    q = rdoq.toward_zero(v, indexes, TABLES, tau)
    nearest = torch.round(v)
    moved = q != nearest
    assert torch.equal(q[moved], (nearest - torch.sign(nearest))[moved])
    assert torch.all(cost(q, v, indexes, tau) <= cost(nearest, v, indexes, tau) + 1e-9)
    assert 0 < moved.sum() < (nearest != 0).sum()


def test_a_residual_just_past_one_half_goes_to_zero_where_one_costs_many_bits():
    v = torch.tensor([0.52, 0.52, 1.45], dtype=torch.float64)
    indexes = torch.tensor([0, 63, 0])  # the narrowest table, the widest, the narrowest
    q = rdoq.toward_zero(v, indexes, TABLES, tau=20.0)
    assert q.tolist() == [0.0, 1.0, 1.0]


def test_a_huge_distortion_weight_is_plain_rounding_and_a_tie_takes_the_cheaper_symbol():
    v = torch.linspace(-5, 5, 1001, dtype=torch.float64) + 0.001  # no residual on a half
    indexes = torch.full((1001,), 5)
    assert torch.equal(rdoq.toward_zero(v, indexes, TABLES, 1e9), torch.round(v))
    halves = torch.tensor([1.5, -2.5], dtype=torch.float64)  # round() gives 2 and -2
    assert rdoq.toward_zero(halves, indexes[:2], TABLES, 1e9).tolist() == [1.0, -2.0]


def test_chosen_symbols_decode_exactly_and_cost_fewer_bits(tiny_model):
    net = load_model(weights=tiny_model).model
    picture = read_picture(smooth_image(64, 64))
    y = analyse(net, picture.rgb) * net.gains(60)[0]
    plain, chosen = net.latent_codec.compress(y), net.latent_codec.compress(y, tau=0.05)
    assert chosen.estimated_bits < plain.estimated_bits
    assert sum(map(len, chosen.strings)) < sum(map(len, plain.strings))
    y_hat = net.latent_codec.decompress(chosen.strings, (1, 1))
    assert torch.equal(y_hat, chosen.y_hat)


@pytest.mark.slow
def test_the_default_model_spends_fewer_bits_for_the_same_loss(monkeypatch):
    pixels = smooth_image(96, 128)
    net = cached_model(DEFAULT_MODEL).model

    def loss(kappa):
        monkeypatch.setattr(rdoq, "KAPPA", kappa)
        data = aecodec.compress(pixels, quality=50)
        mse = np.mean((np.asarray(aecodec.decompress(data)) / 255.0 - pixels / 255.0) ** 2)
        return len(data) * 8 / pixels[..., 0].size + net.rd_lambda(50) * 255**2 * mse, len(data)

    (with_rdoq, size), (without, plain_size) = loss(rdoq.KAPPA), loss(0.0)
    assert size < plain_size and with_rdoq < without

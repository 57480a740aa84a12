"""The exact decoder's float64 synthesis computes what the model's own layers compute."""

import copy

import pytest
import torch
from torch import nn

from aecodec.models.hyperprior import Hyperprior
from aecodec.nn.gdn import GDN
from aecodec.nn.synthesis64 import Float64Synthesis
from aecodec.zoo import CONFIGS


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (5, 3), (9, 12)])
@pytest.mark.parametrize("config", ["hyperprior-tiny", "hyperprior-cb-tiny"])
def test_matches_the_synthesis_in_float64(config, shape):
    torch.manual_seed(0)
    model = Hyperprior(CONFIGS[config]).eval()
    with torch.no_grad():  # away from the initial values (gamma's diagonal, zero biases)
        for p in model.g_s.parameters():
            p.add_(0.05 * torch.randn_like(p))
    y = (torch.randn(1, CONFIGS[config].M, *shape) * 4).round().double()
    with torch.no_grad():
        expected = copy.deepcopy(model.g_s).double()(y)
    got = Float64Synthesis(model.g_s)(y)
    assert got.dtype == torch.float64 and got.shape == expected.shape
    assert torch.allclose(got, expected, rtol=0, atol=1e-12 * float(expected.abs().max()))


@pytest.mark.parametrize("k", [3, 5, 7])
def test_both_product_orders_give_the_transposed_convolution(k):
    torch.manual_seed(1)
    for c_in, c_out in [(4, 6), (64, 1)]:  # taps one by one, and all taps in one product
        conv = nn.ConvTranspose2d(c_in, c_out, k, 2, k // 2, output_padding=1)
        gdn = GDN(c_out, inverse=True)
        gdn.gamma_sqrt.data.add_(0.1 * torch.rand_like(gdn.gamma_sqrt))
        net = nn.Sequential(conv, gdn)
        x = torch.randn(1, c_in, 6, 4, dtype=torch.float64)
        with torch.no_grad():
            expected = copy.deepcopy(net).double()(x)
        assert torch.allclose(Float64Synthesis(net)(x), expected, rtol=1e-12, atol=1e-12)


def test_unsupported_layers_are_refused():
    with pytest.raises(TypeError, match="unsupported transposed convolution"):
        Float64Synthesis(nn.Sequential(nn.ConvTranspose2d(3, 3, 4, 2, 1)))
    with pytest.raises(TypeError, match="no float64 channels-last form for ReLU"):
        Float64Synthesis(nn.Sequential(nn.ReLU()))

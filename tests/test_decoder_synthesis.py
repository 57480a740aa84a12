"""The numpy synthesis gives IntegerSynthesis's pixels, bit for bit, without torch."""

import functools
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from aecodec.decoder.synthesis import NumpySynthesis
from aecodec.models.hyperprior import Hyperprior, HyperpriorConfig
from aecodec.nn.gdn import GDN
from aecodec.nn.layers import deconv
from aecodec.nn.synthesis_int import HIGH, IntegerSynthesis, gain_grid, grid_for
from aecodec.zoo import load_model


def numpy_layers(g_s: nn.Sequential) -> list[dict[str, np.ndarray]]:
    """The synthesis's float32 weights, one dict per layer, as its safetensors state holds them."""
    layers: list[dict[str, np.ndarray]] = [{} for _ in g_s]
    for key, value in g_s.state_dict().items():
        index, name = key.split(".")
        layers[int(index)][name] = value.float().numpy()
    return layers


@torch.no_grad()
def untrained(g_s: nn.Sequential, seed: int) -> nn.Sequential:
    """g_s with GDN parameters away from their initial values: some beta_sqrt below the bound,
    some gamma_sqrt negative (both clamped), the rest spread."""
    generator = torch.Generator().manual_seed(seed)
    for layer in g_s:
        if isinstance(layer, GDN):
            layer.beta_sqrt.copy_(torch.rand(layer.beta_sqrt.shape, generator=generator) + 0.5)
            layer.beta_sqrt[0] = -0.1
            gamma = torch.rand(layer.gamma_sqrt.shape, generator=generator) * 0.35 - 0.05
            layer.gamma_sqrt.copy_(gamma)
    return g_s


def random_input(channels: int, h: int, w: int, seed: int, scale: float = 3.0):
    """A gained y_hat (M, h, w) of realistic magnitude (a few large values) and an inverse gain."""
    generator = torch.Generator().manual_seed(seed)
    y_hat = torch.randn(channels, h, w, generator=generator) * scale
    y_hat.view(-1)[::17] *= 8
    inverse_gain = gain_grid(torch.rand(channels, generator=generator) * 1.5 + 0.5)
    return y_hat, inverse_gain


def grid_of(g_s: nn.Sequential, y_hat: torch.Tensor, inverse_gain: torch.Tensor) -> tuple:
    return tuple(grid_for(g_s, (y_hat * inverse_gain.float()[:, None, None])[None]))


def assert_same_pixels(g_s: nn.Sequential, y_hat, inverse_gain, grid) -> np.ndarray:
    found = NumpySynthesis(numpy_layers(g_s))(y_hat.numpy(), inverse_gain.numpy(), grid)
    expected = IntegerSynthesis(g_s)(y_hat[None], inverse_gain, grid)[0].permute(1, 2, 0)
    assert found.dtype == np.uint8 and found.shape == expected.shape
    assert np.array_equal(found, expected.numpy())
    return found


@functools.cache
def small_synthesis(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return untrained(Hyperprior(HyperpriorConfig(N=16, M=24)).g_s, seed)


@pytest.mark.parametrize(("seed", "h", "w"), [(0, 6, 5), (1, 1, 1)])
def test_small_random_syntheses_give_the_same_pixels(seed, h, w):
    g_s = small_synthesis(seed)
    y_hat, inverse_gain = random_input(24, h, w, seed)
    assert_same_pixels(g_s, y_hat, inverse_gain, grid_of(g_s, y_hat, inverse_gain))


@pytest.mark.slow
def test_the_shipped_model_gives_the_same_pixels():
    net = load_model("hyperprior-sc-joint").model  # its last layer takes every tap at once
    y_hat, _ = random_input(net.config.M, 4, 6, seed=3, scale=1.5)
    inverse_gain = gain_grid(net.gains(50)[1])
    assert_same_pixels(net.g_s, y_hat, inverse_gain, grid_of(net.g_s, y_hat, inverse_gain))


def test_values_beyond_too_fine_a_grid_clip_alike():
    g_s = small_synthesis(0)
    y_hat, inverse_gain = random_input(24, 4, 4, seed=4)
    grid = tuple(e - 3 for e in grid_of(g_s, y_hat, inverse_gain))  # 8 times too fine
    x = y_hat * inverse_gain.float()[:, None, None]
    assert x.abs().max() / 2.0 ** grid[0] > HIGH  # clipped from the first layer on
    assert_same_pixels(g_s, y_hat, inverse_gain, grid)


def test_a_latent_of_zeros_on_the_finest_grid_gives_the_same_pixels():
    # Its grid is the finest (2^-40): the first layer's bias offsets pass 2^53 and round.
    g_s = small_synthesis(0)
    y_hat, inverse_gain = torch.zeros(24, 2, 3), gain_grid(torch.ones(24))
    grid = grid_of(g_s, y_hat, inverse_gain)
    assert grid[0] == -40
    assert_same_pixels(g_s, y_hat, inverse_gain, grid)


@pytest.mark.parametrize(("kernel", "channels"), [(3, 12), (7, 12), (5, 80)])
def test_other_kernels_and_widths_give_the_same_pixels(kernel, channels):
    # 80 channels: the last layer takes every tap at once (5 x 5 x 3 <= 80), as the shipped one
    torch.manual_seed(6)
    layers = [deconv(8, channels, kernel), GDN(channels, inverse=True), deconv(channels, 3, kernel)]
    g_s = untrained(nn.Sequential(*layers), 6)
    y_hat, inverse_gain = random_input(8, 5, 3, seed=6)
    assert_same_pixels(g_s, y_hat, inverse_gain, grid_of(g_s, y_hat, inverse_gain))


def test_a_single_convolution_with_16_bit_weights_gives_the_same_pixels():
    torch.manual_seed(7)
    g_s = nn.Sequential(deconv(8, 3))
    y_hat, inverse_gain = random_input(8, 4, 5, seed=7, scale=0.1)
    assert_same_pixels(g_s, y_hat, inverse_gain, grid_of(g_s, y_hat, inverse_gain))


def test_a_grid_of_the_wrong_length_is_refused():
    synthesis = NumpySynthesis(numpy_layers(small_synthesis(0)))
    with pytest.raises(ValueError, match="a grid of 3 layers"):
        synthesis(np.zeros((24, 1, 1), np.float32), np.ones(24), (0, 0, 0))


def test_a_synthesis_that_does_not_alternate_is_refused():
    layers = numpy_layers(small_synthesis(0))
    with pytest.raises(TypeError, match="alternate"):
        NumpySynthesis(layers[:2])


def test_the_module_needs_neither_torch_nor_numba():
    check = (
        "import sys, aecodec.decoder.synthesis; "
        "assert 'torch' not in sys.modules and 'numba' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", check], check=True)

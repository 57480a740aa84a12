"""Encoder effort: latents refined for each image, decoded by the unchanged decoder."""

import numpy as np
import pytest
import torch

import aecodec
from aecodec.codec import analyse
from aecodec.image import read_picture
from aecodec.models import refine
from aecodec.zoo import load_model
from tests.conftest import smooth_image


def image_and_latent(net, size: int = 64):
    rgb = read_picture(smooth_image(size, size)).rgb
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float().div(255)
    return x, analyse(net, rgb)


def test_effort_zero_is_the_plain_encoder(tiny_model):
    net = load_model(weights=tiny_model).model
    x, y = image_and_latent(net)
    assert refine.compress(net, x, y, 60, 0).strings == net.compress(y, 60).strings


@pytest.mark.parametrize("quality", [10, 90])
def test_refining_never_costs_more_and_decodes_with_the_unchanged_decoder(tiny_model, quality):
    net = load_model(weights=tiny_model).model
    x, y = image_and_latent(net)
    plain = net.compress(y, quality)
    coded = refine.compress(net, x, y, quality, steps=6)
    assert refine.rd_cost(net, x, coded, quality) <= refine.rd_cost(net, x, plain, quality)
    _, inverse_gain = net.gains(quality)
    decoded = net.decompress(coded.strings, (1, 1), quality)
    assert torch.equal(decoded, coded.y_hat * inverse_gain)


def test_a_large_latent_is_refined_in_tiles_that_lower_the_cost_everywhere(tiny_model, monkeypatch):
    net = load_model(weights=tiny_model).model
    rgb = read_picture(smooth_image(192, 256)).rgb  # a latent of 12x16 samples
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float().div(255)
    y = analyse(net, rgb)
    monkeypatch.setattr(refine, "REFINE_TILE", 4)  # 3x4 tiles, each with 4 samples around it
    first, again = (refine.refine(net, x, y, 50, steps=4) for _ in range(2))
    assert torch.equal(first, again) and first.shape == y.shape
    for top in range(0, 12, 4):
        for left in range(0, 16, 4):
            tile = (slice(None), slice(None), slice(top, top + 4), slice(left, left + 4))
            assert not torch.equal(first[tile], y[tile])
    plain, refined = net.compress(y, 50), net.compress(first, 50)
    assert refine.rd_cost(net, x, refined, 50) < refine.rd_cost(net, x, plain, 50)


def test_refinement_moves_the_latent_and_repeats_exactly(tiny_model):
    net = load_model(weights=tiny_model).model
    x, y = image_and_latent(net)
    first, again = (refine.refine(net, x, y, 50, steps=3) for _ in range(2))
    assert torch.equal(first, again)
    assert not torch.equal(first, y)
    assert all(p.requires_grad for p in net.parameters())  # the model is left as it was


def test_stochastic_refinement_repeats_exactly_and_differs_from_the_deterministic(
    tiny_model, monkeypatch
):
    net = load_model(weights=tiny_model).model
    x, y = image_and_latent(net)
    deterministic = refine.refine(net, x, y, 50, steps=4)
    monkeypatch.setattr(refine, "STOCHASTIC_STEPS", 4)
    first, again = (refine.refine(net, x, y, 50, steps=4) for _ in range(2))
    assert torch.equal(first, again)  # the noise comes from a fixed seed
    assert not torch.equal(first, deterministic) and not torch.equal(first, y)


def test_the_noisy_soft_rounding_lies_between_the_neighbours_and_leans_at_random():
    v = torch.linspace(-3, 3, 601)
    noisy = refine._soft_round(v, 0.5, torch.Generator().manual_seed(1))
    assert torch.all((torch.floor(v) <= noisy) & (noisy <= torch.floor(v) + 1))
    nearer_floor = (v - torch.floor(v) < 0.3) & (v - torch.floor(v) > 0.05)
    # some values near their floor are pushed most of the way up by the noise, never without it
    assert (noisy[nearer_floor] - torch.floor(v)[nearer_floor] > 0.5).any()
    assert not (refine._soft_round(v, 0.5)[nearer_floor] - torch.floor(v)[nearer_floor] > 0.5).any()


def test_the_soft_rounding_lies_between_the_neighbours_and_hardens_as_it_cools():
    v = torch.linspace(-3, 3, 601)
    for tau in (0.6, 0.2):
        soft = refine._soft_round(v, tau)
        assert torch.all((torch.floor(v) <= soft) & (soft <= torch.floor(v) + 1))
    away_from_halves = (v - torch.round(v)).abs() < 0.3
    cool = refine._soft_round(v, 0.05)[away_from_halves]
    assert torch.allclose(cool, torch.round(v)[away_from_halves], atol=1e-3)
    warm = refine._soft_round(v, 0.6)[away_from_halves]
    assert (warm - torch.round(v)[away_from_halves]).abs().max() > 0.05


def test_efforts_take_more_steps_as_they_rise():
    steps = [refine.steps_for(effort) for effort in range(10)]
    assert steps[0] == 0 and steps == sorted(steps) and len(set(steps)) == 10
    with pytest.raises(ValueError, match="effort must be between 0 and 9"):
        refine.steps_for(10)


@pytest.mark.parametrize("effort", [1, 9])
def test_every_effort_writes_files_the_plain_decoder_reads_at_no_higher_cost(tiny_model, effort):
    image = smooth_image(64, 48)
    net = load_model(weights=tiny_model).model

    def cost(data: bytes) -> float:
        decoded = np.asarray(aecodec.decompress(data, weights=tiny_model), dtype=np.float64)
        mse = np.mean((decoded - np.asarray(image, dtype=np.float64)) ** 2) / 255**2
        return 8 * len(data) / (64 * 48) + net.rd_lambda(40) * 255**2 * mse

    plain = aecodec.compress(image, 40, weights=tiny_model)
    effortful = aecodec.compress(image, 40, weights=tiny_model, effort=effort)
    assert cost(effortful) <= cost(plain) + 1e-6


def test_an_effort_outside_0_to_9_is_refused(tiny_model):
    with pytest.raises(ValueError, match="effort must be between 0 and 9"):
        aecodec.compress(smooth_image(64, 64), 40, weights=tiny_model, effort=10)


def test_the_command_line_takes_an_effort_from_0_to_9(cli, image_path, tiny_model, tmp_path):
    packed = tmp_path / "photo.aec"
    done = cli("compress", image_path, "--weights", tiny_model, "-e", "3", "-o", packed)
    assert done.returncode == 0, done.stderr
    done = cli("decompress", packed, "--weights", tiny_model, "-o", tmp_path / "b.png")
    assert done.returncode == 0, done.stderr
    done = cli("compress", image_path, "--weights", tiny_model, "--effort", "10")
    assert done.returncode == 2 and "'--effort'" in done.stderr and "9" in done.stderr


def test_an_effort_with_a_size_target_fits_it_at_least_as_faithfully(tiny_model):
    image = smooth_image(64, 48)

    def error(data: bytes) -> float:
        decoded = np.asarray(aecodec.decompress(data, weights=tiny_model), dtype=np.float64)
        return float(np.mean((decoded - np.asarray(image, dtype=np.float64)) ** 2))

    plain = aecodec.compress(image, size=300, weights=tiny_model)
    effortful = aecodec.compress(image, size=300, weights=tiny_model, effort=2)
    assert len(effortful) <= 300
    assert error(effortful) <= error(plain)

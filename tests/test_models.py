"""Every codec architecture, tiny: trains, freezes, codes exactly, saves and loads."""

import pytest
import torch

from aecodec.codec import MARGIN_LATENT, MARGIN_PIXELS
from aecodec.models.hyperprior import Hyperprior
from aecodec.nn.tiling import tiled
from aecodec.zoo import CONFIGS, load_model, save_model
from tests.conftest import TINY, make_context_matter


@pytest.mark.parametrize("name", CONFIGS)
def test_every_registered_config_trains_and_codes_exactly(name):
    torch.manual_seed(0)
    model = Hyperprior(CONFIGS[name])
    x = torch.rand(2, 3, 64, 64)
    out = model(x, torch.tensor([0, 1]))
    assert out["x_hat"].shape == x.shape
    assert 0 < out["y_likelihood"].min() and out["y_likelihood"].max() <= 1
    (out["x_hat"].mean() - out["y_likelihood"].log().sum()).backward()
    assert model.g_a[0].weight.grad is not None and model.gain.grad is not None
    model.eval().freeze()
    y = model.g_a(x[:1]).detach() * model.gains(50)[0]
    assert_decodes_exactly(model, y, (1, 1))


def assert_decodes_exactly(model, y, z_shape):
    coded = model.latent_codec.compress(y)
    assert len(coded.strings) == model.latent_codec.payloads
    y_hat = model.latent_codec.decompress(coded.strings, z_shape)
    assert torch.equal(y_hat, coded.y_hat) and (y_hat - y).abs().max() <= 0.5


def test_coding_needs_freeze_first():
    model = Hyperprior(TINY)
    with pytest.raises(RuntimeError, match="call model.freeze"):
        model.latent_codec.compress(torch.zeros(1, TINY.M, 4, 4))


def test_latent_round_trip_is_exact():
    torch.manual_seed(0)
    model = Hyperprior(TINY).eval()
    model.freeze()
    y = torch.randn(1, TINY.M, 8, 12) * 5
    coded = model.latent_codec.compress(y)
    means, _ = model.h_s_exact(torch.round(model.h_a(y)))
    y_hat = model.latent_codec.decompress(coded.strings, (2, 3))
    assert torch.equal(y_hat, torch.round(y - means) + means)
    assert coded.estimated_bits > 0


def test_checkerboard_round_trip_is_exact():
    torch.manual_seed(0)
    model = Hyperprior(CONFIGS["hyperprior-cb-tiny"]).eval()
    for p in model.context_model.entropy_parameters[-1].parameters():
        torch.nn.init.normal_(p, std=0.05)  # a non-zero correction, as after training
    model.freeze()
    y = torch.randn(1, TINY.M, 8, 12) * 5
    assert_decodes_exactly(model, y, (2, 3))


def test_space_channel_round_trip_is_exact():
    torch.manual_seed(0)
    model = Hyperprior(CONFIGS["hyperprior-sc-tiny"]).eval()
    make_context_matter(model.context_model)
    assert not torch.equal(model.context_model.order, torch.arange(TINY.M))
    model.freeze()
    y = torch.randn(1, TINY.M, 8, 12) * 5
    assert_decodes_exactly(model, y, (2, 3))
    assert model.latent_codec.payloads == 2  # z, then all ten groups in one stream


def test_space_channel_context_starts_as_the_checkerboard_it_extends():
    torch.manual_seed(0)
    checkerboard = Hyperprior(CONFIGS["hyperprior-cb-tiny"]).eval()
    make_context_matter(checkerboard.context_model)
    extended = Hyperprior(CONFIGS["hyperprior-sc-tiny"]).eval()
    extended.load_state_dict(checkerboard.state_dict(), strict=False)
    extended.context_model.set_order(torch.rand(TINY.M))  # order alone changes nothing either
    y = torch.randn(2, TINY.M, 8, 12) * 5
    with torch.no_grad():
        _, expected = checkerboard.entropy_forward(y)
        _, got = extended.entropy_forward(y)
    assert torch.allclose(got["y_likelihood"], expected["y_likelihood"], atol=1e-6)


def test_save_and_load_give_the_same_model(tmp_path):
    model = Hyperprior(TINY)
    path = save_model(model, tmp_path / "m", {"description": "test"})
    loaded = load_model(weights=path)
    assert loaded.card["config"]["N"] == TINY.N and len(loaded.weights_hash) == 8
    for key, value in model.state_dict().items():
        assert torch.allclose(loaded.model.state_dict()[key], value, atol=1e-2, rtol=1e-3)


def test_tiled_transforms_equal_whole_image_processing():
    torch.manual_seed(0)
    model = Hyperprior(TINY).eval()
    x = torch.rand(1, 3, 192, 256)
    with torch.no_grad():  # the codec's margins, on small tiles so that there are many
        whole = model.g_a(x)
        assert torch.allclose(tiled(model.g_a, x, 1 / 16, 64, MARGIN_PIXELS), whole, atol=1e-5)
        y = torch.randn(1, TINY.M, 12, 16)
        assert torch.allclose(tiled(model.g_s, y, 16, 4, MARGIN_LATENT), model.g_s(y), atol=1e-5)

"""Every autoencoder architecture, tiny: shapes, the VAE's KL term, learning, save and load."""

import math

import pytest
import torch

from aecodec.errors import ModelError
from aecodec.family import zoo
from aecodec.family.fit import FitConfig, evaluate, fit
from aecodec.family.losses import negative_elbo
from aecodec.family.models import VAE, ConvAE, ConvConfig, DenseAE, DenseConfig, VAEConfig
from aecodec.family.models.vae import kl_divergence, reparameterise

TINY = {
    "dense": DenseAE(DenseConfig(input_shape=(1, 8, 8), hidden=(16,), latent=4)),
    "deep": DenseAE(DenseConfig(input_shape=(20,), hidden=(12, 8), latent=3, dropout=0.1)),
    "conv": ConvAE(ConvConfig(input_shape=(1, 8, 8), widths=(4, 8), latent=4)),
    "conv-rgba-odd": ConvAE(ConvConfig(input_shape=(4, 7, 9), widths=(4, 8, 8), latent=5)),
    "vae": VAE(VAEConfig(input_shape=(1, 8, 8), hidden=(16,), latent=2)),
    "conv-vae": VAE(VAEConfig(input_shape=(3, 10, 6), body="conv", widths=(4, 8), latent=3)),
}


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: threads only cost


@pytest.mark.parametrize("name", TINY)
def test_codes_and_reconstructions_have_the_declared_shapes(name):
    model = TINY[name].eval()
    shape = model.config.input_shape
    x = torch.rand(5, *shape)
    z = model.encode(x)
    assert z.shape == (5, model.config.latent)
    assert model.decode(z).shape == (5, *shape)
    out = model(x)
    assert out["x_hat"].shape == x.shape and out["logits"].shape == x.shape


@pytest.mark.parametrize("name", TINY)
def test_save_and_load_give_back_the_same_model(name, tmp_path):
    model = TINY[name].eval()
    zoo.save_model(model, tmp_path / name, {"description": "test"}, half=False)
    loaded = zoo.load_model(weights=tmp_path / f"{name}.safetensors")
    assert loaded.model.config == model.config
    assert loaded.card["description"] == "test" and loaded.card["dtype"] == "float32"
    x = torch.rand(3, *model.config.input_shape)
    torch.testing.assert_close(loaded.model.encode(x), model.encode(x))


def test_half_precision_weights_halve_the_file_and_stay_close(tmp_path):
    model = TINY["dense"].eval()
    full = zoo.save_model(model, tmp_path / "f", {}, half=False)
    half = zoo.save_model(model, tmp_path / "h", {})
    assert half.stat().st_size < 0.6 * full.stat().st_size
    x = torch.rand(3, 1, 8, 8)
    torch.testing.assert_close(zoo.load_model(weights=half).model(x)["x_hat"], model(x)["x_hat"],
                               atol=1e-2, rtol=0)  # fmt: skip


def test_an_unknown_name_lists_the_installed_autoencoders():
    with pytest.raises(ModelError, match="autoencoder 'nope' is not installed.*mnist-conv"):
        zoo.load_model("nope")


@pytest.mark.parametrize("name", ["../weights/mnist-vae", "/tmp/x", "mnist-vae.safetensors/"])
def test_a_name_is_never_a_path(name):
    with pytest.raises(ModelError, match="not a model name.*--weights"):
        zoo.load_model(name)


def test_shipped_models_load_the_exact_tensors_of_their_files():
    from safetensors.torch import load_file

    assert set(zoo.available_models()) == {"mnist-conv", "mnist-dense", "mnist-vae"}
    for name, path in zoo.available_models().items():
        stored = load_file(str(path))
        state = zoo.load_model(name).model.state_dict()
        assert state.keys() == stored.keys()
        for key, tensor in stored.items():
            assert torch.equal(state[key], tensor.float()), (name, key)


def test_weights_that_do_not_fit_the_card_are_one_model_error(tmp_path):
    zoo.save_model(TINY["dense"], tmp_path / "m", {})
    card = tmp_path / "m.json"
    card.write_text(card.read_text().replace('"latent": 4', '"latent": 5'))
    with pytest.raises(ModelError, match="do not fit the card") as error:
        zoo.load_model(weights=tmp_path / "m.safetensors")
    assert len(str(error.value).splitlines()) == 1


def test_a_card_of_another_kind_of_model_is_refused(tmp_path):
    zoo.save_model(TINY["dense"], tmp_path / "m", {})
    card = tmp_path / "m.json"
    card.write_text(card.read_text().replace('"family": "dense"', '"family": "hyperprior"'))
    with pytest.raises(ModelError, match="no autoencoder family"):
        zoo.load_model(weights=tmp_path / "m.safetensors")


def test_kl_is_zero_for_the_standard_normal():
    assert kl_divergence(torch.zeros(4, 3), torch.zeros(4, 3)).tolist() == [0.0] * 4


def test_kl_matches_the_closed_form_for_known_gaussians():
    # KL(N(mu, s^2) || N(0, 1)) = (s^2 + mu^2 - 1) / 2 - log s, per dimension.
    mu, s = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.5, 2.0]])
    expected = sum((si**2 + m**2 - 1) / 2 - math.log(si) for m, si in [(1, 0.5), (-2, 2.0)])
    assert kl_divergence(mu, 2 * s.log()).item() == pytest.approx(expected, rel=1e-6)


def test_reparameterised_samples_have_the_posterior_moments_and_gradients():
    mu = torch.full((20000, 1), 3.0, requires_grad=True)
    logvar = torch.full((20000, 1), math.log(0.25), requires_grad=True)
    z = reparameterise(mu, logvar, torch.Generator().manual_seed(0))
    assert z.mean().item() == pytest.approx(3.0, abs=0.02)
    assert z.std().item() == pytest.approx(0.5, abs=0.02)
    z.sum().backward()
    assert mu.grad is not None and logvar.grad is not None


def blobs(n: int = 256, shape=(1, 8, 8)) -> torch.Tensor:
    """Smooth random images in [0, 1]: structured enough to be learnable quickly."""
    g = torch.Generator().manual_seed(0)
    low = torch.rand(n, shape[0], 2, 2, generator=g)
    return torch.nn.functional.interpolate(low, size=shape[1:], mode="bilinear")


@pytest.mark.parametrize("name", ["dense", "conv"])
def test_training_lowers_the_reconstruction_error(name):
    model, x = zoo.build(zoo.family_of(TINY[name]), TINY[name].config.to_dict()), blobs()
    cfg = FitConfig(epochs=10, batch_size=16, learning_rate=1e-2)
    before = evaluate(model, x, cfg)
    fit(model, x, cfg)
    assert evaluate(model, x, cfg) < 0.5 * before


def test_training_lowers_the_vae_negative_elbo():
    model, x = zoo.build("vae", TINY["vae"].config.to_dict()), blobs()
    before = negative_elbo(model, x)["nelbo"]
    fit(model, x, FitConfig(epochs=10, batch_size=16, loss="bce", learning_rate=1e-2))
    assert negative_elbo(model, x)["nelbo"] < before - 1.0  # nats per 8x8 image


def test_vae_negative_elbo_is_reconstruction_plus_kl():
    model = TINY["vae"].eval()
    terms = negative_elbo(model, blobs(50), samples=2)
    assert terms["nelbo"] == pytest.approx(terms["recon"] + terms["kl"])
    assert terms["kl"] >= 0


def test_vae_samples_from_the_prior_are_images():
    x = TINY["conv-vae"].eval().sample(4, torch.Generator().manual_seed(0))
    assert x.shape == (4, 3, 10, 6) and 0 <= x.min() and x.max() <= 1


def test_shipped_autoencoders_stay_out_of_the_codec_registry():
    from aecodec.zoo import available_models

    assert not set(zoo.available_models()) & set(available_models())

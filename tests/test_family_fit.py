"""The family's training loop: seeds, validation, early stopping, noise and regularisers."""

import pytest
import torch

from aecodec.family import zoo
from aecodec.family.fit import OPTIMIZERS, FitConfig, fit
from aecodec.family.losses import weight_penalty
from aecodec.family.models import DenseAE, DenseConfig
from aecodec.family.noise import NOISES, corrupt

CONFIG = DenseConfig(input_shape=(16,), hidden=(8,), latent=3)


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: threads only cost


def data(n: int = 64) -> torch.Tensor:
    return torch.rand(n, 16, generator=torch.Generator().manual_seed(1))


def model(seed: int = 0) -> DenseAE:
    torch.manual_seed(seed)
    return DenseAE(CONFIG)


def test_one_seed_gives_the_same_training_twice_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    state = torch.get_rng_state()
    cfg = FitConfig(epochs=2, batch_size=16, seed=7, noise="mask", noise_level=0.3)
    a, b = model(), model()
    torch.set_rng_state(state)
    assert fit(a, data(), cfg).loss == fit(b, data(), cfg).loss
    assert torch.equal(torch.get_rng_state(), state)


def test_validation_split_holds_out_the_last_examples():
    history = fit(model(), data(), FitConfig(epochs=2, validation_split=0.25))
    assert len(history.val_loss) == 2 and len(history.loss) == 2


def test_early_stopping_stops_and_keeps_the_best_weights():
    # A learning rate this large makes the loss get worse: the first epoch stays the best.
    net = model()
    calls = []
    cfg = FitConfig(epochs=50, optimizer="sgd", learning_rate=50.0, patience=2,
                    validation_split=0.25)  # fmt: skip
    history = fit(net, data(), cfg, checkpoint=lambda m, epoch: calls.append(epoch))
    assert history.stopped_early and len(history.loss) < 50
    assert calls[-1] == history.best_epoch
    best = min(range(len(history.val_loss)), key=history.val_loss.__getitem__)
    assert history.best_epoch == best + 1


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_trains(optimizer):
    lr = 0.1 if optimizer == "sgd" else 0.01
    history = fit(model(), data(), FitConfig(epochs=4, optimizer=optimizer, learning_rate=lr))
    assert history.loss[-1] < history.loss[0]


@pytest.mark.parametrize("noise", NOISES)
def test_noise_corrupts_a_fraction_of_the_input(noise):
    x = torch.full((100, 100), 0.5)
    x[0, 0], x[0, 1] = 0.0, 1.0
    noisy = corrupt(x, noise, 0.2, torch.Generator().manual_seed(0))
    changed = (noisy != x).float().mean().item()
    assert changed == pytest.approx(1.0 if noise == "gaussian" else 0.2, abs=0.02)


def test_denoising_sparse_and_penalised_training_runs():
    cfg = FitConfig(epochs=2, noise="salt-pepper", noise_level=0.1, activity_l1=1e-3,
                    weight_l1=1e-4, weight_l2=1e-4, loss="bce")  # fmt: skip
    assert len(fit(model(), data(), cfg).loss) == 2


def test_weight_penalties_count_weights_not_biases():
    net = DenseAE(DenseConfig(input_shape=(2,), hidden=(), latent=1))
    for layer in (net.encoder[0], net.decoder[0]):
        torch.nn.init.constant_(layer.weight, 2.0)
        torch.nn.init.constant_(layer.bias, 100.0)
    assert weight_penalty(net, l1=1.0, l2=0.0).item() == pytest.approx(4 * 2.0)
    assert weight_penalty(net, l1=0.0, l2=1.0).item() == pytest.approx(4 * 4.0)


@pytest.mark.parametrize(
    "change, message",
    [({"optimizer": "lbfgs"}, "unknown optimizer"), ({"loss": "hinge"}, "unknown loss"),
     ({"noise": "pink"}, "unknown noise"), ({"schedule": "linear"}, "unknown schedule"),
     ({"validation_split": 1.0}, "validation_split")],
)  # fmt: skip
def test_bad_settings_are_refused_by_name(change, message):
    with pytest.raises(ValueError, match=message):
        fit(model(), data(), FitConfig(**change))


def test_bce_needs_a_sigmoid_output():
    net = zoo.build("dense", {**CONFIG.to_dict(), "output_activation": "linear"})
    with pytest.raises(ValueError, match="sigmoid"):
        fit(net, data(), FitConfig(loss="bce"))

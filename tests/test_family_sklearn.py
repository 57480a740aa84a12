"""The autoencoders are scikit-learn transformers: the estimator checks, pipelines, Keras calls."""

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from aecodec.errors import ModelError, ShapeMismatch
from aecodec.family import Autoencoder, load_data
from aecodec.family.presets import PRESETS, from_preset

FAST = dict(hidden=(4,), latent=2, epochs=2, batch_size=16, random_state=0)


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: threads only cost


@parametrize_with_checks([Autoencoder(**FAST), Autoencoder(kind="vae", **FAST)])
def test_scikit_learn_estimator_contract(estimator, check):
    # The conv kinds need image-shaped examples, which the generic checks do not make;
    # test_conv_autoencoder_in_a_pipeline covers them.
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    ds = load_data("digits")
    return ds.x.reshape(len(ds), -1), ds.labels


@pytest.mark.slow  # 15 epochs on 1,500 digits: about 3 s
def test_drops_into_a_pipeline_where_pca_would(digits):
    x, y = digits
    scores = {}
    for name, reducer in (
        ("pca", PCA(8)),
        ("ae", Autoencoder(latent=8, epochs=15, random_state=0)),
    ):
        pipe = make_pipeline(StandardScaler(), reducer, LogisticRegression(max_iter=300))
        scores[name] = pipe.fit(x[:1500], y[:1500]).score(x[1500:], y[1500:])
    assert scores["ae"] > 0.8 and scores["pca"] > 0.8


def test_conv_autoencoder_in_a_pipeline_takes_flat_square_images(digits):
    x, _ = digits
    ae = Autoencoder(kind="conv", widths=(8,), latent=4, epochs=2, random_state=0)
    z = make_pipeline(ae).fit_transform(x[:200])
    assert z.shape == (200, 4) and ae.example_shape_ == (1, 8, 8)
    assert ae.inverse_transform(z).shape == (200, 64)


def test_keras_style_fit_on_images_with_per_call_settings():
    x = load_data("digits").x[:300]
    ae = Autoencoder(kind="dense", latent=4, random_state=0)
    assert ae.fit(x, epochs=3, batch_size=32, validation_split=0.2, shuffle=False) is ae
    assert len(ae.history_.loss) == 3 and len(ae.history_.val_loss) == 3
    assert ae.encode(x).shape == (300, 4)
    assert ae.decode(ae.encode(x)).shape == ae.reconstruct(x).shape == (300, 1, 8, 8)
    assert ae.get_params()["epochs"] == 20  # the call's settings do not change the estimator's


def test_one_random_state_gives_the_same_codes():
    x = load_data("digits").x[:200]
    a, b = (Autoencoder(kind="conv-vae", widths=(4,), latent=2, epochs=2, random_state=3).fit(x)
            for _ in range(2))  # fmt: skip
    np.testing.assert_array_equal(a.transform(x), b.transform(x))


def test_save_and_load_round_trip(tmp_path):
    x = load_data("digits").x[:100]
    ae = Autoencoder(kind="vae", hidden=(16,), latent=2, epochs=1, random_state=0).fit(x)
    ae.save(tmp_path / "m", {"description": "test"})
    loaded = Autoencoder.load(weights=tmp_path / "m.safetensors")
    assert loaded.kind == "vae" and loaded.fit_config_.loss == "bce"
    np.testing.assert_allclose(loaded.transform(x), ae.transform(x), atol=2e-2)
    assert loaded.sample(3).shape == (3, 1, 8, 8)


def test_only_a_vae_samples():
    ae = Autoencoder(latent=2, epochs=1, random_state=0).fit(load_data("digits").x[:50])
    with pytest.raises(ModelError, match="variational"):
        ae.sample(2)


def test_wrong_shapes_and_kinds_are_named():
    x = load_data("digits").x[:50]
    ae = Autoencoder(latent=2, epochs=1, random_state=0).fit(x)
    with pytest.raises(ShapeMismatch):
        ae.transform(np.zeros((2, 1, 5, 5), np.float32))
    with pytest.raises(ShapeMismatch, match="codes must be"):
        ae.inverse_transform(np.zeros((2, 3)))
    with pytest.raises(ModelError, match="unknown autoencoder kind"):
        Autoencoder(kind="gan").fit(x)
    with pytest.raises(ShapeMismatch, match="images"):
        Autoencoder(kind="conv").fit(np.zeros((4, 7)))


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_builds_and_reconstructs(name):
    x = load_data("digits").x[:40]
    ae = from_preset(name, epochs=1, random_state=0).fit(x)
    assert ae.reconstruct(x).shape == x.shape

"""The autoencoder family: dense, convolutional, sparse, denoising and variational autoencoders.

from aecodec.family import Autoencoder, load_data
digits = load_data("digits")
ae = Autoencoder(kind="conv", latent=8, epochs=10).fit(digits.x)
grid = ae.reconstruct(digits.x[:8])
"""

from aecodec.family.data import Dataset, load_data

__all__ = ["Autoencoder", "Dataset", "load_data"]


def __getattr__(name: str):
    # Autoencoder is a scikit-learn estimator: import scikit-learn (about 1 s) only when it is
    # asked for, not whenever a codec command starts.
    if name == "Autoencoder":
        from aecodec.family.estimators import Autoencoder

        return Autoencoder
    raise AttributeError(f"module 'aecodec.family' has no attribute '{name}'")

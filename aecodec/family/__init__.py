"""The autoencoder family: dense, convolutional, sparse, denoising and variational autoencoders.

from aecodec.family import Autoencoder, load_data
digits = load_data("digits")
ae = Autoencoder(kind="conv", latent=8, epochs=10).fit(digits.x)
grid = ae.reconstruct(digits.x[:8])
"""

from aecodec.family.data import Dataset, load_data
from aecodec.family.estimators import Autoencoder

__all__ = ["Autoencoder", "Dataset", "load_data"]

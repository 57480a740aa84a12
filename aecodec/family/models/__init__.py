"""The family's architectures, one file each: dense.py (and the shared plain-autoencoder base),
conv.py, vae.py (dense or convolutional body). Each is a PyTorch module built from its config
dataclass, `Model(Config.from_dict(card["config"]))`."""

from aecodec.family.models.conv import ConvAE, ConvConfig
from aecodec.family.models.dense import DenseAE, DenseConfig
from aecodec.family.models.vae import VAE, VAEConfig

__all__ = ["VAE", "ConvAE", "ConvConfig", "DenseAE", "DenseConfig", "VAEConfig"]

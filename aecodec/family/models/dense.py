"""Dense (fully connected) autoencoder.

- Hinton, Salakhutdinov, "Reducing the Dimensionality of Data with Neural Networks", Science
  2006: a deep encoder to a small code and a mirrored decoder beat PCA on MNIST digits.
- Chollet, "Building Autoencoders in Keras", 2016: the classic 784-256-784 with a ReLU encoder
  and a sigmoid decoder, and the deep 784-128-64-32 with its mirror.

The sparse autoencoder (L1 activity penalty on the code) and the denoising autoencoder
(Vincent et al., ICML 2008: noisy inputs, clean targets) are this model trained differently;
see `aecodec.family.fit`. `mlp()` is shared with the dense VAE.
"""

import math
from dataclasses import dataclass

from torch import Tensor, nn

from aecodec.config import JsonConfig

ACTIVATIONS = {
    "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU, "linear": nn.Identity,
}  # fmt: skip


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation '{name}' (known: {', '.join(ACTIVATIONS)})")
    return ACTIVATIONS[name]()


def mlp(sizes: list[int], act: str, last_act: str, dropout: float = 0.0) -> nn.Sequential:
    """Linear layers sizes[0] -> ... -> sizes[-1]; `act` between them, `last_act` at the end."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        last = i == len(sizes) - 2
        if dropout and i > 0:
            layers.append(nn.Dropout(dropout))
        layers += [nn.Linear(a, b), activation(last_act if last else act)]
    return nn.Sequential(*layers)


class PlainAutoencoder(nn.Module):
    """What the dense and convolutional autoencoders share; subclasses give encode(),
    decode_logits() and the output activation."""

    output: nn.Module

    def decode(self, z: Tensor) -> Tensor:
        return self.output(self.decode_logits(z))

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        z = self.encode(x)
        logits = self.decode_logits(z)
        return {"x_hat": self.output(logits), "logits": logits, "z": z}


@dataclass
class DenseConfig(JsonConfig):
    input_shape: tuple[int, ...] = (1, 28, 28)  # one example; flattened on the way in
    hidden: tuple[int, ...] = ()  # encoder widths before the code; the decoder mirrors them
    latent: int = 256  # size of the code: 784-256-784 by default, (128, 64) + 32 for deep
    activation: str = "relu"
    latent_activation: str = "relu"  # "linear" suits small codes (a ReLU code can die)
    output_activation: str = "sigmoid"  # "sigmoid" for data in [0, 1], "linear" otherwise
    dropout: float = 0.0


class DenseAE(PlainAutoencoder):
    def __init__(self, config: DenseConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        n = math.prod(c.input_shape)
        self.encoder = mlp([n, *c.hidden, c.latent], c.activation, c.latent_activation, c.dropout)
        # The decoder's last layer is linear; the output activation is applied in decode() so
        # that the loss can use the pre-activation (BCE on logits is numerically stable).
        self.decoder = mlp([c.latent, *reversed(c.hidden), n], c.activation, "linear", c.dropout)
        self.output = activation(c.output_activation)

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x.flatten(1))

    def decode_logits(self, z: Tensor) -> Tensor:
        return self.decoder(z).view(-1, *self.config.input_shape)

"""Variational autoencoder, dense or convolutional.

- Kingma, Welling, "Auto-Encoding Variational Bayes", ICLR 2014: an encoder q(z|x) with mean and
  log-variance heads, the reparameterisation z = mu + sigma * eps, and the loss
  -ELBO = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I)), whose KL term has a closed form.
- Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a Constrained Variational
  Framework", ICLR 2017: weight the KL term by beta (beta = 1 is the plain VAE).

The bodies are those of the dense and convolutional autoencoders (`mlp`, `conv_encoder`).
"""

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from aecodec.config import JsonConfig
from aecodec.family.models.conv import conv_decoder, conv_encoder, flat_size
from aecodec.family.models.dense import activation, mlp


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) in nats, one value per example (summed over dims)."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).flatten(1).sum(1)


def reparameterise(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """A sample of q(z|x) written as a differentiable function of mu and logvar."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + eps * torch.exp(0.5 * logvar)


@dataclass
class VAEConfig(JsonConfig):
    input_shape: tuple[int, ...] = (1, 28, 28)
    body: str = "dense"  # "dense" or "conv"
    hidden: tuple[int, ...] = (512, 256)  # dense body: encoder widths before the heads
    widths: tuple[int, ...] = (32, 64)  # conv body: channels of each stride-2 stage
    latent: int = 2
    activation: str = "relu"
    output_activation: str = "sigmoid"  # sigmoid: Bernoulli decoder, trained with BCE


class VAE(nn.Module):
    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        if c.body == "dense":
            n = math.prod(c.input_shape)
            self.body = nn.Sequential(nn.Flatten(), mlp([n, *c.hidden], c.activation, c.activation))
            features = c.hidden[-1]
            self.decoder = mlp([c.latent, *reversed(c.hidden), n], c.activation, "linear")
        elif c.body == "conv":
            self.body = conv_encoder(c.input_shape, c.widths, c.activation)
            features = flat_size(c.input_shape, c.widths)
            self.decoder = nn.Sequential(
                nn.Linear(c.latent, features), activation(c.activation),
                conv_decoder(c.input_shape, c.widths, c.activation),
            )  # fmt: skip
        else:
            raise ValueError(f"unknown VAE body '{c.body}' (known: dense, conv)")
        self.mu = nn.Linear(features, c.latent)
        self.logvar = nn.Linear(features, c.latent)
        self.output = activation(c.output_activation)

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-variance of q(z|x)."""
        h = self.body(x.reshape(-1, *self.config.input_shape))
        return self.mu(h), self.logvar(h)

    def encode(self, x: Tensor) -> Tensor:
        """The posterior mean: the deterministic code used for embeddings."""
        return self.posterior(x)[0]

    def decode_logits(self, z: Tensor) -> Tensor:
        return self.decoder(z).view(-1, *self.config.input_shape)

    def decode(self, z: Tensor) -> Tensor:
        return self.output(self.decode_logits(z))

    def forward(self, x: Tensor, sample: bool | None = None) -> dict[str, Tensor]:
        """Samples z while training (or when asked); uses the mean otherwise."""
        mu, logvar = self.posterior(x)
        z = reparameterise(mu, logvar) if (self.training if sample is None else sample) else mu
        logits = self.decode_logits(z)
        return {"x_hat": self.output(logits), "logits": logits, "z": z, "mu": mu, "logvar": logvar}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws from the prior, decoded."""
        device = self.mu.weight.device
        return self.decode(torch.randn(n, self.config.latent, generator=generator).to(device))

"""Losses of the autoencoder family: reconstruction (MSE or BCE), KL, and the penalties.

Plain autoencoders follow Keras: the reconstruction term is a mean over every number in the
batch. The VAE follows Kingma and Welling: per example, the reconstruction term is summed over
pixels (a negative log-likelihood in nats for BCE) and the KL term is added, weighted by beta.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aecodec.family.models.vae import kl_divergence

LOSSES = ("mse", "bce")


def reconstruction(out: dict[str, Tensor], target: Tensor, kind: str) -> Tensor:
    """Per-example reconstruction error, summed over the example's numbers."""
    target = target.reshape(out["logits"].shape)
    if kind == "mse":
        error = (out["x_hat"] - target).pow(2)
    elif kind == "bce":
        # On the logits: exact where sigmoid(logits) rounds to 0 or 1 in float32.
        error = F.binary_cross_entropy_with_logits(out["logits"], target, reduction="none")
    else:
        raise ValueError(f"unknown loss '{kind}' (known: {', '.join(LOSSES)})")
    return error.flatten(1).sum(1)


def weight_penalty(model: nn.Module, l1: float, l2: float) -> Tensor:
    """l1 * sum|w| + l2 * sum w^2 over the weights of linear and convolution layers (no biases)."""
    total = torch.zeros(())
    if not (l1 or l2):
        return total
    total = total.to(next(model.parameters()).device)
    for module in model.modules():
        if isinstance(module, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            w = module.weight
            total = total + l1 * w.abs().sum() + l2 * w.pow(2).sum()
    return total


def is_variational(model: nn.Module) -> bool:
    return hasattr(model, "posterior")


def loss_terms(
    model: nn.Module, out: dict[str, Tensor], target: Tensor, kind: str,
    beta: float = 1.0, activity_l1: float = 0.0,
) -> dict[str, Tensor]:  # fmt: skip
    """The training loss and its parts, averaged over the batch (penalties on weights excluded)."""
    recon = reconstruction(out, target, kind)
    if is_variational(model):
        kl = kl_divergence(out["mu"], out["logvar"])
        return {"loss": (recon + beta * kl).mean(), "recon": recon.mean(), "kl": kl.mean()}
    loss = recon.mean() / target[0].numel()
    if activity_l1:  # sparse autoencoder: L1 on the code, as Keras' activity_regularizer
        loss = loss + activity_l1 * out["z"].abs().sum(1).mean()
    return {"loss": loss, "recon": recon.mean() / target[0].numel()}


@torch.no_grad()
def reconstruction_mse(model: nn.Module, x: Tensor, batch_size: int = 1000) -> float:
    """Mean squared error per number of the deterministic reconstruction (VAE: posterior mean)."""
    model.eval()
    total = 0.0
    for batch in x.split(batch_size):
        x_hat = model.decode(model.encode(batch))
        total += float((x_hat - batch.reshape(x_hat.shape)).pow(2).sum())
    return total / x.numel()


@torch.no_grad()
def negative_elbo(model: nn.Module, x: Tensor, samples: int = 1, seed: int = 0) -> dict:
    """-ELBO per example in nats with a Bernoulli decoder (BCE), its two terms, averaged."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    recon_sum, kl_sum = 0.0, 0.0
    for batch in x.split(1000):
        mu, logvar = model.posterior(batch)
        kl_sum += float(kl_divergence(mu, logvar).sum())
        for _ in range(samples):
            eps = torch.randn(mu.shape, generator=gen)
            logits = model.decode_logits(mu + eps * torch.exp(0.5 * logvar))
            recon_sum += float(reconstruction({"logits": logits}, batch, "bce").sum()) / samples
    n = len(x)
    return {"nelbo": (recon_sum + kl_sum) / n, "recon": recon_sum / n, "kl": kl_sum / n}

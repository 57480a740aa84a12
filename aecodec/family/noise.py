"""Input corruption for denoising autoencoders (Vincent, Larochelle, Bengio, Manzagol, "Extracting
and Composing Robust Features with Denoising Autoencoders", ICML 2008): the model sees a noisy
input and is scored against the clean one."""

import torch
from torch import Tensor

NOISES = ("gaussian", "salt-pepper", "mask")


def corrupt(x: Tensor, kind: str, level: float, generator: torch.Generator) -> Tensor:
    """A noisy copy of x.

    gaussian: add N(0, level^2); salt-pepper: a fraction `level` of the numbers set to the
    batch's minimum or maximum (0 or 1 for images), half each; mask: a fraction `level` set to 0.
    """
    if kind == "gaussian":
        return x + level * torch.randn(x.shape, generator=generator)
    hit = torch.rand(x.shape, generator=generator) < level
    if kind == "mask":
        return x.masked_fill(hit, 0.0)
    if kind == "salt-pepper":
        salt = torch.rand(x.shape, generator=generator) < 0.5
        noisy = x.masked_fill(hit & salt, float(x.max()))
        return noisy.masked_fill(hit & ~salt, float(x.min()))
    raise ValueError(f"unknown noise '{kind}' (known: {', '.join(NOISES)})")

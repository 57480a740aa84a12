"""Generalized divisive normalization, in its simplified L1 form.

Ballé et al., "Density Modeling of Images using a Generalized Normalization Transformation",
ICLR 2016; the L1 variant without square and square root is from Johnston et al.,
"Computationally Efficient Neural Image Compression", 2019, who found it as good and cheaper:

    GDN(x)_i  = x_i / (beta_i + sum_j gamma_ij |x_j|)
    IGDN(x)_i = x_i * (beta_i + sum_j gamma_ij |x_j|)
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class _LowerBound(torch.autograd.Function):
    """max(x, bound) whose gradient still pulls x up from below the bound (Ballé's trick)."""

    @staticmethod
    def forward(ctx, x: Tensor, bound: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.bound = bound
        return x.clamp_min(bound)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (x,) = ctx.saved_tensors
        passes = (x >= ctx.bound) | (grad < 0)
        return grad * passes, None


class GDN(nn.Module):
    """Simplified GDN (or its inverse) over the channels of an NCHW tensor."""

    def __init__(self, channels: int, inverse: bool = False, beta_min: float = 1e-6) -> None:
        super().__init__()
        self.inverse = inverse
        self.beta_min = beta_min
        # beta and gamma must stay non-negative; they are kept as square roots and squared on use.
        self.beta_sqrt = nn.Parameter(torch.ones(channels))
        self.gamma_sqrt = nn.Parameter(torch.eye(channels).mul(0.1).add(1e-3).sqrt())

    def normalisation(self) -> tuple[Tensor, Tensor]:
        """The effective beta (C,) and gamma (C, C), non-negative, in the parameters' dtype."""
        beta = _LowerBound.apply(self.beta_sqrt, self.beta_min**0.5) ** 2
        gamma = _LowerBound.apply(self.gamma_sqrt, 0.0) ** 2
        return beta, gamma

    def forward(self, x: Tensor) -> Tensor:
        beta, gamma = self.normalisation()
        norm = F.conv2d(x.abs(), gamma[:, :, None, None], beta)
        if torch.is_grad_enabled():
            return x * norm if self.inverse else x / norm
        # Inference: the result into norm's memory (the same values; a large image's tiles then
        # allocate one block fewer per layer).
        return norm.mul_(x) if self.inverse else torch.div(x, norm, out=norm)

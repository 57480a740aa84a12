"""Fully factorised density for the hyper-latent z (Ballé et al. 2018, appendix 6.1).

Each channel has its own univariate CDF, a small monotonic network of 1-D "matrices" with
non-negative weights. Training sees z plus uniform noise and gets the likelihood as a CDF
difference; `freeze()` turns each channel's density into an integer table for the coder. The
table support comes from learned tail quantiles, fitted by `aux_loss()` as in CompressAI.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aecodec.entropy.tables import Tables, quantise_pmfs

LIKELIHOOD_MIN = 1e-9


class EntropyBottleneck(nn.Module):
    def __init__(
        self, channels: int, filters: tuple[int, ...] = (3, 3, 3), tail_mass: float = 1e-9
    ) -> None:
        super().__init__()
        self.channels = channels
        self.tail_mass = tail_mass
        dims = (1, *filters, 1)
        scale = 10.0 ** (1 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(filters) + 1):
            init = np.log(np.expm1(1 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(channels, dims[i + 1], 1) - 0.5))
            if i < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))
        # Lower tail, median and upper tail of each channel, learned by aux_loss().
        target = float(np.log(2 / tail_mass - 1))
        self.quantiles = nn.Parameter(torch.tensor([-10.0, 0.0, 10.0]).repeat(channels, 1, 1))
        self.register_buffer("target", torch.tensor([-target, 0.0, target]), persistent=False)

    def _logits_cumulative(self, x: Tensor, stop_gradient: bool = False) -> Tensor:
        """x: (C, 1, L) -> logits of the CDF at x, same shape."""
        for i, matrix in enumerate(self.matrices):
            matrix, bias = matrix, self.biases[i]
            if stop_gradient:
                matrix, bias = matrix.detach(), bias.detach()
            x = torch.matmul(F.softplus(matrix), x) + bias
            if i < len(self.factors):
                factor = self.factors[i].detach() if stop_gradient else self.factors[i]
                x = x + torch.tanh(factor) * torch.tanh(x)
        return x

    def _likelihood(self, values: Tensor) -> Tensor:
        """values: (C, 1, L) -> P(v - 1/2 < Z_c < v + 1/2), same shape."""
        lower = self._logits_cumulative(values - 0.5)
        upper = self._logits_cumulative(values + 0.5)
        # Subtract in the tail where both sigmoids are close to 0, not 1, for precision.
        sign = -torch.sign(lower + upper).detach()
        return (torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).abs()

    def likelihood(self, z: Tensor) -> Tensor:
        """P(z - 1/2 < Z < z + 1/2) per element of an NCHW tensor."""
        lik = self._likelihood(z.transpose(0, 1).reshape(self.channels, 1, -1))
        lik = lik.reshape(self.channels, z.shape[0], *z.shape[2:]).transpose(0, 1)
        return lik.clamp_min(LIKELIHOOD_MIN)

    def aux_loss(self) -> Tensor:
        """Pulls `quantiles` to the tail_mass/2, 1/2, 1 - tail_mass/2 points of each CDF."""
        logits = self._logits_cumulative(self.quantiles, stop_gradient=True)
        return (logits - self.target).abs().sum()

    @torch.no_grad()
    def freeze(self) -> Tables:
        """Integer table per channel over [floor(lower quantile), ceil(upper quantile)]."""
        q = self.quantiles[:, 0, :]
        lo = torch.floor(q[:, 0]).long()
        hi = torch.ceil(q[:, 2]).long().clamp_min(lo + 1)
        grid = torch.arange(int(lo.min()), int(hi.max()) + 1, device=q.device)
        lik = self._likelihood(grid.float().expand(self.channels, 1, -1))[:, 0].double().cpu()
        start = lo - grid[0]
        pmfs = [
            lik[c, start[c] : start[c] + hi[c] - lo[c] + 1].numpy() for c in range(self.channels)
        ]
        return quantise_pmfs(pmfs, lo.tolist())

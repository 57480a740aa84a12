"""Gaussian conditional for the latent y (Ballé et al. 2018; means from Minnen et al. 2018).

Each element of y is coded as an integer symbol round(y - mu) with a discretised Gaussian of scale
sigma. The coder does not use sigma itself: it uses the index of a table, one per scale on a fixed
log-spaced grid, chosen by integer comparison in `IntegerHyperSynthesis`, so that encoder and
decoder pick the same table bit for bit.
"""

import math

import numpy as np
import torch
from torch import Tensor, nn

from aecodec.entropy.numerics import SCALE_MIN, scale_table
from aecodec.entropy.tables import Tables, quantise_pmfs

LIKELIHOOD_MIN = 1e-9
TAIL_SIGMAS = 6.2  # tables cover |v| <= 6.2 sigma, the rest (mass ~1e-9) goes through the escape


class GaussianConditional(nn.Module):
    @staticmethod
    def likelihood(y: Tensor, scales: Tensor, means: Tensor) -> Tensor:
        """P(y - 1/2 < Y < y + 1/2) for Y ~ N(means, scales^2), elementwise."""
        values = (y - means).abs()
        scales = scales.clamp_min(SCALE_MIN)
        upper = _normal_cdf((0.5 - values) / scales)
        lower = _normal_cdf((-0.5 - values) / scales)
        return (upper - lower).clamp_min(LIKELIHOOD_MIN)

    @staticmethod
    def freeze() -> Tables:
        """One integer table per grid scale, over |v| <= ceil(TAIL_SIGMAS * scale). Built when a
        model is saved (its file holds them); scipy is imported here only, not by a decoder."""
        from scipy.special import ndtr  # half a second of import: not a decoder's start-up

        pmfs, offsets = [], []
        for scale in scale_table():
            half = math.ceil(TAIL_SIGMAS * scale)
            v = np.arange(-half, half + 1, dtype=np.float64)
            pmfs.append(ndtr((v + 0.5) / scale) - ndtr((v - 0.5) / scale))
            offsets.append(-half)
        return quantise_pmfs(pmfs, offsets)


def _normal_cdf(x: Tensor) -> Tensor:
    return 0.5 * torch.erfc(-x * (2**-0.5))

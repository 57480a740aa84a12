"""The numbers both ends of the latent coding must agree on, in one torch-free place: the fixed
point of the exact networks, the Gaussian tables' scale grid and the integer thresholds that
pick a table, and the space-channel context's channel groups. The torch coder
(aecodec.entropy, aecodec.latent) and the numpy decoder (aecodec.decoder) both read them here.
"""

import functools
import itertools
import math

import numpy as np

FA, FW = 10, 12  # fractional bits of activations and weights
ACT_MAX = 2.0**21
EXACT_LIMIT = 2.0**53  # every operand and partial sum stays below it: float64 sums are exact
POSITIONS = 8192  # latent positions per pass of the context models' pointwise networks

SCALE_MIN, SCALE_MAX, SCALE_LEVELS = 0.11, 256.0, 64
GROUP_TWELFTHS = (1, 1, 2, 4, 4)  # ELIC's uneven channel groups, as twelfths of M


def scale_table() -> np.ndarray:
    """The scale of each Gaussian table, log-spaced."""
    return np.exp(np.linspace(math.log(SCALE_MIN), math.log(SCALE_MAX), SCALE_LEVELS))


@functools.cache
def thresholds(nearest: bool) -> np.ndarray:
    """Fixed-point scales at which the next table takes over (`table_indexes`): the grid's
    geometric midpoints (`nearest`, format 2 on), or the grid itself (format 1)."""
    grid = scale_table()
    bounds = np.sqrt(grid[:-1] * grid[1:]) if nearest else grid[:-1]
    return np.floor(bounds * 2**FA)


def group_bounds(M: int) -> list[tuple[int, int]]:
    """(start, end) channel positions of each space-channel group, in coding order."""
    if M % 12:
        raise ValueError(f"a space-channel context needs M divisible by 12, got {M}")
    ends = [twelfths * (M // 12) for twelfths in itertools.accumulate(GROUP_TWELFTHS)]
    return list(zip([0, *ends[:-1]], ends, strict=True))

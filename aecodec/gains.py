"""The synthesis's inverse gain for a file's quality: the same bits on every machine, in both
decoders (torch's and numpy's), with no torch.

A quality between two trained lambdas mixes their gain vectors geometrically. Files of version 5
compute the mix in float64 and keep GAIN_BITS significant bits: math libraries' pow differs by
an ulp (2^-52) at most, so the rounding to 2^-20 moves only where an ulp straddles a rounding
point, about one gain in 2^32. Version 4 mixed in float32 by torch's pow, which differs from C's
powf in a third of the gains (a fifth of the qualities then differ after rounding); its files
keep that rule (nn.synthesis_int.gain_grid), and need torch.
"""

import numpy as np

GAIN_BITS = 20


def between_lambdas(quality: float, levels: int) -> tuple[int, float]:
    """The lower of the two trained levels a quality in [0, 100] lies between, and how far."""
    position = float(np.clip(quality, 0, 100)) / 100 * (levels - 1)
    low = min(int(position), levels - 2)
    return low, position - low


def synthesis_gain(inverse_gains: np.ndarray, quality: float) -> np.ndarray:
    """The inverse gain (M,) float64 of a quality, from the model's (levels, M) inverse gains."""
    g = np.abs(np.asarray(inverse_gains, dtype=np.float64))
    low, t = between_lambdas(quality, len(g))
    return round_significant(g[low] ** (1 - t) * g[low + 1] ** t)


def round_significant(x: np.ndarray, bits: int = GAIN_BITS) -> np.ndarray:
    """x rounded (half to even) to `bits` significant bits: frexp and ldexp are exact, unlike a
    log2 that may round up to the next power of two."""
    mantissa, exponent = np.frexp(x)
    return np.ldexp(np.round(np.ldexp(mantissa, bits)), exponent - bits)

"""Estimating the level of white Gaussian noise in an image, numpy only.

The estimator of Chen, Zhu and Heng ("An efficient statistical method for image noise level
estimation", ICCV 2015): the covariance of an image's small patches has, besides the few large
eigenvalues that carry the picture, a tail of small ones that carry only the noise. Noise alone
gives eigenvalues whose mean equals their median; the estimate is the mean of the longest tail of
smallest eigenvalues for which that holds, and sigma its square root.
"""

import math

import numpy as np

PATCH = 8  # patch side in pixels
MAX_PATCHES = 20_000  # enough for a stable covariance; more only costs time


def estimate_sigma(image: np.ndarray) -> float:
    """The noise level of `image` ((H, W) or (H, W, C), 8-bit values) in 8-bit levels.

    Channels are taken jointly (C x 8 x 8 patches): colour noise independent across channels
    shows in the tail like gray noise. Images under 8x8 pixels give 0."""
    x = np.asarray(image, dtype=np.float32)
    x = x[..., None] if x.ndim == 2 else x
    if x.shape[0] < PATCH or x.shape[1] < PATCH:
        return 0.0
    patches = _patches(x)
    means = patches.reshape(len(patches), x.shape[2], -1).mean(axis=2)  # each patch's levels
    patches -= patches.mean(axis=0)
    covariance = (patches.T @ patches).astype(np.float64) / len(patches)
    eigenvalues = np.clip(np.linalg.eigvalsh(covariance), 0, None)  # ascending
    for end in range(len(eigenvalues), 0, -1):
        tail = eigenvalues[:end]
        tau = tail.mean()
        if np.sum(tail > tau) == np.sum(tail < tau):  # mean = median: noise alone
            return unclipped(float(np.sqrt(tau)), means)
    return unclipped(float(np.sqrt(eigenvalues[0])), means)


def unclipped(seen: float, levels: np.ndarray) -> float:
    """The level of the noise before 8-bit clipping that leaves `seen` after it, in an image
    whose local mean levels are `levels`. Noise pushed past 0 or 255 is cut, so a noisy photo
    shows less than it was given (about 10 % less at sigma 50), while the networks are told the
    level before clipping. Fixed-point iteration on sigma = seen / sqrt(kept fraction)."""
    if seen <= 0:
        return 0.0
    counts, edges = np.histogram(levels, bins=64, range=(0, 255))
    mu, weights = (edges[:-1] + edges[1:]) / 2, counts / max(counts.sum(), 1)
    sigma = seen
    for _ in range(20):
        kept = sum(w * _clipped_variance(m, sigma) for m, w in zip(mu, weights, strict=True) if w)
        sigma = seen * sigma / math.sqrt(max(kept, 0.25 * sigma**2))
    return sigma


def _clipped_variance(mu: float, sigma: float, low: float = 0.0, high: float = 255.0) -> float:
    """Variance of N(mu, sigma^2) clipped to [low, high]."""
    a, b = (low - mu) / sigma, (high - mu) / sigma
    cdf_a, cdf_b = _cdf(a), _cdf(b)
    pdf_a, pdf_b = _pdf(a), _pdf(b)
    inside = cdf_b - cdf_a
    mean = low * cdf_a + high * (1 - cdf_b) + mu * inside + sigma * (pdf_a - pdf_b)
    square = (low**2 * cdf_a + high**2 * (1 - cdf_b) + mu**2 * inside
              + 2 * mu * sigma * (pdf_a - pdf_b)
              + sigma**2 * (inside + a * pdf_a - b * pdf_b))  # fmt: skip
    return max(square - mean**2, 0.0)


def _cdf(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def _pdf(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _patches(x: np.ndarray) -> np.ndarray:
    """(N, PATCH * PATCH * C) overlapping patches on a regular grid, at most about MAX_PATCHES:
    the grid's step grows with the image (at least 1, so small images give all they have)."""
    h, w = x.shape[0] - PATCH + 1, x.shape[1] - PATCH + 1
    stride = max(1, math.ceil(math.sqrt(h * w / MAX_PATCHES)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (PATCH, PATCH), axis=(0, 1))
    windows = windows[::stride, ::stride]  # (h', w', C, PATCH, PATCH), a view
    return windows.reshape(-1, windows.shape[2] * PATCH * PATCH)  # the one copy

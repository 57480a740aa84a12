"""Bjøntegaard delta rate and delta PSNR between two rate-distortion curves.

G. Bjøntegaard, "Calculation of average PSNR differences between RD-curves", VCEG-M33 (2001).
BD-rate is the mean gap between the two curves' log-rates, integrated over the quality range
both cover, turned back into a percent change of rate: -50 means the test codec needs half the
anchor's bits for the same quality. BD-PSNR is the mean quality gap over the shared log-rate range.

Two interpolations:
- "pchip" (default): piecewise cubic Hermite interpolation through the points
  (scipy's PchipInterpolator), integrated exactly. It is monotone between points, so it never
  overshoots as a fitted cubic can. The JCT-VC/JVET common-test-condition Excel sheets switched to
  it after the polynomial misled during HEVC's standardisation; FAU-LMS's `bjontegaard` package
  implements the same.
- "cubic": the original VCEG-M33 method, a least-squares cubic polynomial through all points.

When the curves share no quality range (or no rate range, for BD-PSNR) there is nothing to
average: the functions return nan and emit a `BDWarning` that says why.
"""

import math
import warnings

import numpy as np
from scipy.interpolate import PchipInterpolator

METHODS = ("pchip", "cubic")


class BDWarning(UserWarning):
    """A Bjøntegaard delta could not be computed; the message says why."""


def bd_rate(anchor_rates, anchor_psnr, test_rates, test_psnr, method: str = "pchip") -> float:
    """Average rate change of `test` relative to `anchor` at equal quality, in percent."""
    gap = _mean_gap(
        x_anchor=anchor_psnr,
        y_anchor=np.log(_rates(anchor_rates)),
        x_test=test_psnr,
        y_test=np.log(_rates(test_rates)),
        method=method,
        what="quality",
    )
    return (math.exp(gap) - 1) * 100 if math.isfinite(gap) else math.nan


def bd_psnr(anchor_rates, anchor_psnr, test_rates, test_psnr, method: str = "pchip") -> float:
    """Average quality change of `test` relative to `anchor` at equal rate (dB for PSNR)."""
    return _mean_gap(
        x_anchor=np.log(_rates(anchor_rates)),
        y_anchor=anchor_psnr,
        x_test=np.log(_rates(test_rates)),
        y_test=test_psnr,
        method=method,
        what="log-rate",
    )


def _rates(rates) -> np.ndarray:
    rates = np.asarray(rates, dtype=np.float64)
    if np.any(rates <= 0):
        raise ValueError("rates must be positive to take their logarithm")
    return rates


def _mean_gap(x_anchor, y_anchor, x_test, y_test, method: str, what: str) -> float:
    """Mean of y_test(x) - y_anchor(x) over the x range both curves cover."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    curves = []
    for name, x, y in (("anchor", x_anchor, y_anchor), ("test", x_test, y_test)):
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError(f"{name}: rates and qualities must be 1-D lists of equal length")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            return _nan(f"the {name} curve has non-finite values")
        x, y = _distinct(x, y)
        needed = 4 if method == "cubic" else 2
        if len(x) < needed:
            return _nan(f"the {name} curve has {len(x)} distinct points; {method} needs {needed}")
        curves.append((x, y))
    (xa, ya), (xt, yt) = curves
    lo, hi = max(xa[0], xt[0]), min(xa[-1], xt[-1])
    if hi <= lo:
        return _nan(
            f"the curves do not overlap in {what}: anchor [{xa[0]:.3g}, {xa[-1]:.3g}], "
            f"test [{xt[0]:.3g}, {xt[-1]:.3g}]"
        )
    return (_integral(xt, yt, lo, hi, method) - _integral(xa, ya, lo, hi, method)) / (hi - lo)


def _distinct(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points sorted by x; points that share an x (e.g. two settings that give the same file)
    are merged into their mean, since an interpolant needs strictly increasing x."""
    xs, inverse = np.unique(x, return_inverse=True)
    ys = np.bincount(inverse, weights=y) / np.bincount(inverse)
    return xs, ys


def _integral(x: np.ndarray, y: np.ndarray, lo: float, hi: float, method: str) -> float:
    if method == "pchip":
        return float(PchipInterpolator(x, y).integrate(lo, hi))
    antiderivative = np.polyint(np.polyfit(x, y, 3))
    return float(np.polyval(antiderivative, hi) - np.polyval(antiderivative, lo))


def _nan(reason: str) -> float:
    warnings.warn(f"Bjøntegaard delta undefined: {reason}", BDWarning, stacklevel=3)
    return math.nan

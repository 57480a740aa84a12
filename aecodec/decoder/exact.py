"""The exact fixed-point networks of the coding face (aecodec.entropy.integer.ExactNet) in numpy.

Weights are rounded to FW fractional bits, activations to FA; each convolution sums integer
products as float64 matrix products, exact in any order below 2**53 (the torch twin checks the
bound when it freezes; here `_fixed_conv` does), then floors by 2**FW and clamps. Convolutions
are stride 1 and same-padded, one product per non-zero kernel tap; upsampling is a pixel
shuffle; ReLU is exact.
"""

import numpy as np

from aecodec.entropy.numerics import ACT_MAX, EXACT_LIMIT, FA, FW

# A plan is a list of steps: ("conv", state key prefix), ("shuffle", factor) or ("relu", None).
Plan = list[tuple[str, object]]


class ExactNet:
    def __init__(self, state: dict[str, np.ndarray], plan: Plan, mask: np.ndarray | None = None):
        """The net of `plan` from the float weights in `state`; `mask` (k, k) zeroes kernel taps
        of every convolution (a checkerboard context's)."""
        self.steps: list[tuple[str, object]] = []
        for op, arg in plan:
            if op == "conv":
                weight = state[f"{arg}.weight"].astype(np.float64)
                if mask is not None:
                    weight = weight * mask
                self.steps.append(("conv", _fixed_conv(weight, state[f"{arg}.bias"], arg)))
            else:
                self.steps.append((op, arg))

    def __call__(self, x: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
        """Fixed-point input (C, H, W) -> fixed-point output (C', H', W'), exactly. With
        `positions` (flat indices into H * W) a one-convolution net computes only there: (C', n)."""
        for op, arg in self.steps:
            if op == "conv":
                x = _conv(x, *arg, positions)
                positions = None
                np.multiply(x, 2.0**-FW, out=x)
                np.floor(x, out=x)
                np.clip(x, -ACT_MAX, ACT_MAX, out=x)
            elif op == "shuffle":
                c, h, w = x.shape
                r = int(arg)
                x = x.reshape(c // (r * r), r, r, h, w).transpose(0, 3, 1, 4, 2)
                x = x.reshape(c // (r * r), h * r, w * r)
            else:
                x = np.maximum(x, 0)
        return x


def to_fixed(x: np.ndarray) -> np.ndarray:
    """Integer-valued (or exact binary fraction) values as fixed point, clamped, float64."""
    return np.clip(np.asarray(x, np.float64) * 2**FA, -ACT_MAX, ACT_MAX)


def _fixed_conv(weight: np.ndarray, bias: np.ndarray, name: object) -> tuple:
    """(per-tap weight matrices, fixed-point bias, taps, radius) of a float convolution."""
    w = np.round(weight * 2**FW)
    b = np.round(bias.astype(np.float64) * 2 ** (FA + FW))
    fan_in = w[0].size
    if fan_in * np.abs(w).max() * ACT_MAX + np.abs(b).max() >= EXACT_LIMIT:
        raise ValueError(f"{name}: weights too large for exact float64 sums")
    taps = [tuple(t) for t in np.argwhere(np.abs(w).sum(axis=(0, 1)) > 0)]
    matrices = [np.ascontiguousarray(w[:, :, i, j]) for i, j in taps]
    return matrices, b, taps, w.shape[-1] // 2


def _conv(x, matrices, bias, taps, r, positions=None) -> np.ndarray:
    """Same-padded stride-1 convolution, one float64 product per non-zero tap; with positions,
    only those outputs (C', n)."""
    c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (r, r), (r, r))) if r else x
    count = h * w if positions is None else len(positions)
    y = np.repeat(bias[:, None], count, axis=1)
    if positions is not None:
        flat, width = padded.reshape(c, -1), w + 2 * r
        corner = positions // w * width + positions % w
    for (i, j), matrix in zip(taps, matrices, strict=True):
        if positions is None:
            inputs = padded[:, i : i + h, j : j + w].reshape(c, h * w)
        else:
            inputs = flat[:, corner + (i * width + j)]
        y += matrix @ inputs.astype(np.float64, copy=False)
    return y.reshape(-1, h, w) if positions is None else y

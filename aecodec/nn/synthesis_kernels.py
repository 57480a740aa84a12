"""The integer synthesis's elementwise work as compiled loops (numba), one pass per layer.

Between two matrix products the synthesis joins digit sums, adds a bias, scales, rounds, clips
and splits the result into the next product's digits: a dozen passes over the largest tensors
as separate torch operations, one here. The arithmetic is the same single operations: integer
sums (exact), int to float32 conversion, float32 multiply and add (no fused multiply-add: numba
compiles without fast-math, so LLVM keeps each operation rounded on its own), round half to
even. Rows run in parallel; every output element is computed alone, so the thread count never
changes a result.

Compiled once per machine and cached beside this file (seconds on first use); where no cache
folder is writable, compiled in memory in each process.
"""

import numba
import numpy as np

LOW, HIGH = -(1 << 13), (1 << 13) - 1  # the 14-bit range of synthesis_int


def _jit(function):
    try:
        return numba.njit(cache=True, parallel=True)(function)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(parallel=True)(function)


@_jit
def deconv_phase(products, offsets, scale, height, width, stride, py, px, q_out, abs_digits):
    """One output phase of a transposed convolution: the digit products (2 * count, n) of its
    rows, joined (256 high + low + offset, exact), scaled and rounded onto the next grid: into
    q_out (2 height, 2 width, c) int16 at rows 2j + py, columns 2i + px, and the digits of |q|
    into abs_digits (2, 2 height, 2 width, c) int8 for the inverse GDN's product."""
    count = products.shape[0] // 2
    channels = q_out.shape[2]
    for j in numba.prange(height):
        for i in range(width):
            row = j * stride + i
            for c in range(channels):
                total = np.int64(products[count + row, c]) + 256 * np.int64(products[row, c])
                value = np.float32(total + offsets[c]) * scale[c]
                q = min(max(np.rint(value), np.float32(LOW)), np.float32(HIGH))
                level = np.int64(q)
                q_out[2 * j + py, 2 * i + px, c] = level
                magnitude = abs(level)
                abs_digits[0, 2 * j + py, 2 * i + px, c] = magnitude >> 8
                abs_digits[1, 2 * j + py, 2 * i + px, c] = (magnitude & 255) - 128


@_jit
def inverse_gdn(products, q, offset, g_step, beta, ratio, planes, pad):
    """x (beta + gamma |x|) from the products (2 * n, c) of |q|'s digits with gamma, rounded onto
    the next grid and written as digits into the interior of the next layer's zero-padded input
    planes (2, h + 2 pad + 1, w + 2 pad, c) int8."""
    height, width, channels = q.shape
    count = height * width
    for j in numba.prange(height):
        for i in range(width):
            row = j * width + i
            for c in range(channels):
                total = np.int64(products[count + row, c]) + 256 * np.int64(products[row, c])
                norm = np.float32(total + offset[c]) * g_step[c] + beta[c]
                value = norm * np.float32(q[j, i, c]) * ratio
                level = np.int64(min(max(np.rint(value), np.float32(LOW)), np.float32(HIGH)))
                planes[0, j + pad, i + pad, c] = level >> 8
                planes[1, j + pad, i + pad, c] = (level & 255) - 128

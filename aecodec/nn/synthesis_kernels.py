"""The integer synthesis's elementwise work as compiled loops (numba), one pass per layer.

Between two matrix products the synthesis joins digit sums, adds a bias, scales, rounds, clips
and splits the result into the next product's digits: a dozen passes over the largest tensors
as separate torch operations, one here. The arithmetic is the same single operations: integer
sums (exact), int to float32 conversion, float32 multiply and add (no fused multiply-add: numba
compiles without fast-math, so LLVM keeps each operation rounded on its own), round half to
even. Every output element is computed alone, so rows may be split between threads in any way:
numba spreads each loop's rows over the cores (`in_parallel`).

Compiled once per machine and cached beside this file (seconds on first use); where no cache
folder is writable, compiled in memory in each process.
"""

import threading

import numba
import numpy as np

LOW, HIGH = -(1 << 13), (1 << 13) - 1  # the 14-bit range of synthesis_int


def in_parallel(kernel, rows: int, *args) -> None:
    """kernel(0, rows, *args), its rows spread over the cores by numba; one such call at a time
    in the process (numba's fallback thread pool, where OpenMP and TBB are missing, must not be
    entered from two threads at once; the web server decodes in several)."""
    with _ONE_AT_A_TIME:
        kernel(0, rows, *args)


_ONE_AT_A_TIME = threading.Lock()


def _jit(function):
    try:
        return numba.njit(cache=True, nogil=True, parallel=True)(function)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(nogil=True, parallel=True)(function)


@_jit
def deconv_phase(start, stop, products, offsets, scale, width, stride, py, px, q_out, magnitudes):
    """One output phase of a transposed convolution: the digit products (2 * count, n) of its
    rows, joined (256 high + low + offset, exact), scaled and rounded onto the next grid: into
    q_out (2 height, 2 width, c) int16 at rows 2j + py, columns 2i + px, and |q| / 64 rounded
    (at most 127) into magnitudes (2 height, 2 width, c) int8 for the inverse GDN's product."""
    count = products.shape[0] // 2
    channels = q_out.shape[2]
    for j in numba.prange(start, stop):
        for i in range(width):
            row = j * stride + i
            for c in range(channels):
                total = np.int64(products[count + row, c]) + 256 * np.int64(products[row, c])
                value = np.float32(total + offsets[c]) * scale[c]
                q = min(max(np.rint(value), np.float32(LOW)), np.float32(HIGH))
                level = np.int64(q)
                q_out[2 * j + py, 2 * i + px, c] = level
                magnitudes[2 * j + py, 2 * i + px, c] = min((abs(level) + 32) >> 6, 127)


@_jit
def inverse_gdn(start, stop, products, q, g_step, beta, ratio, planes, pad):
    """x (beta + gamma |x|) from the products (h w, c) of |q| / 64 with gamma, rounded onto the
    next grid and written as digits into the interior of the next layer's zero-padded input
    planes (2, h + 2 pad + 1, w + 2 pad, c) int8."""
    height, width, channels = q.shape
    for j in numba.prange(start, stop):
        for i in range(width):
            row = j * width + i
            for c in range(channels):
                norm = np.float32(products[row, c]) * g_step[c] + beta[c]
                value = norm * np.float32(q[j, i, c]) * ratio
                level = np.int64(min(max(np.rint(value), np.float32(LOW)), np.float32(HIGH)))
                planes[0, j + pad, i + pad, c] = level >> 8
                planes[1, j + pad, i + pad, c] = (level & 255) - 128


@_jit
def gather(start, stop, rows, starts, out):
    """out[d, r, t] = rows[d, starts[t] + r]: the input rows each tap reads, side by side, so
    that a phase of a transposed convolution is one matrix product."""
    digits, count, taps, channels = out.shape
    for r in numba.prange(start, stop):
        for d in range(digits):
            for t in range(taps):
                source = starts[t] + r
                for c in range(channels):
                    out[d, r, t, c] = rows[d, source, c]


@_jit
def last_layer(start, stop, products, taps, tap_count, offsets, scale, width, stride, pixels):
    """The last transposed convolution from every input row's products with every tap
    (2 * rows, taps * c): per output pixel the sums of its phase's taps (taps[phase, k] =
    (row offset, tap)), joined, scaled to 0..255 and rounded into pixels (2 h, 2 w, c) uint8."""
    rows = products.shape[0] // 2
    channels = pixels.shape[2]
    for j in numba.prange(start, stop):
        for i in range(width):
            for phase in range(4):
                y, x = 2 * j + phase // 2, 2 * i + phase % 2
                for c in range(channels):
                    total = np.int64(offsets[phase, c])
                    for k in range(tap_count[phase]):
                        row = taps[phase, k, 0] + j * stride + i
                        column = taps[phase, k, 1] * channels + c
                        total += np.int64(products[rows + row, column])
                        total += 256 * np.int64(products[row, column])
                    value = np.rint(np.float32(total) * scale[c])
                    pixels[y, x, c] = np.int64(min(max(value, np.float32(0)), np.float32(255)))

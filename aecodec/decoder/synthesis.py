"""The integer synthesis in numpy alone: the pixels of aecodec.nn.synthesis_int, bit for bit.

IntegerSynthesis multiplies 14-bit activations by 8-bit weights (the first layer's 16-bit) as
int8 digits, for the CPU's int8 and float32 units. numpy has float units only, and here every
product is taken whole in float64: the activations are integers below 2^13, the weights below
2^15, so every product and every partial sum (below 2^39 for the first layer of the shipped
model, 1728 products) is an integer below 2^53, exact in whatever order the matrix library adds
them. A float64 product costs as much as the two float32 products of the digits (the float64
units are half as wide), the first layer's a quarter of its four, and no digits are split or
joined. The inverse GDN's normalisation (7-bit magnitudes times 8-bit gamma over 128 channels)
stays below float32's 2^24. Between products, the single IEEE operations of synthesis_kernels
in the same order: convert the exact sum to float32, multiply by the float32 scale, add, round
half to even, clip; numpy never fuses a multiply and an add, so each step rounds on its own as
there. The products take nearly all the time (numpy's matmul is multi-threaded); the
elementwise passes, a few percent, gain nothing measurable from threads of their own.
"""

import functools
from collections.abc import Iterator

import numpy as np

LOW, HIGH = -(1 << 13), (1 << 13) - 1  # the 14-bit grids of synthesis_int (ACTIVATION_BITS)
MAGNITUDE_STEP = 64  # the inverse GDN's normalisation sees |q| in steps of 64 (7 bits)
BETA_MIN = 1e-6  # GDN's default
FLOAT32_EXACT = 1 << 24  # integers up to here are exact in float32

Layer = dict[str, np.ndarray]
Table = dict[str, np.ndarray]


class NumpySynthesis:
    """The integer synthesis from the float weights of a synthesis g_s stored as numpy arrays."""

    def __init__(self, layers: list[Layer]) -> None:
        converted: list[_Deconv | _InverseGDN] = []
        for i, layer in enumerate(layers):
            if "weight" in layer:
                digits = 2 if i == 0 else 1  # as IntegerSynthesis: 16-bit weights first
                converted.append(_Deconv(layer, digits, last=i == len(layers) - 1))
            elif "gamma_sqrt" in layer:
                converted.append(_InverseGDN(layer))
            else:
                raise TypeError(f"no integer form for a layer of {sorted(layer)}")
        # IntegerSynthesis hands each convolution's output to an inverse GDN and that one's to
        # the next convolution: the synthesis it computes alternates them.
        kinds = [type(layer) for layer in converted]
        if kinds != [_Deconv, _InverseGDN] * (len(kinds) // 2) + [_Deconv]:
            raise TypeError("the synthesis must alternate convolutions and inverse GDNs")
        self.layers = converted
        self.tables = functools.lru_cache(maxsize=64)(self._tables)

    def _tables(self, grid: tuple[int, ...]) -> list[Table]:
        """Each layer's grid-dependent vectors for `grid`."""
        if len(grid) != len(self.layers):
            raise ValueError(f"a grid of {len(grid)} layers for a synthesis of {len(self.layers)}")
        steps = [2.0 ** int(e) for e in grid] + [None]
        return [layer.on_grid(steps[i], steps[i + 1]) for i, layer in enumerate(self.layers)]

    def __call__(
        self, y_hat: np.ndarray, inverse_gain: np.ndarray, grid: tuple[int, ...]
    ) -> np.ndarray:
        """The gained y_hat (M, h, w), the inverse gain (M,) from gain_grid and the file's grid
        -> the pixels (16 h, 16 w, 3) uint8, those of IntegerSynthesis."""
        grid = tuple(int(e) for e in grid)
        tables = self.tables(grid)
        # Exact, as there: the gain over the step (a power of two), then the product.
        x = np.asarray(y_hat).transpose(1, 2, 0).astype(np.float64)
        x *= np.asarray(inverse_gain, dtype=np.float64) / 2.0 ** grid[0]
        np.clip(np.rint(x, out=x), LOW, HIGH, out=x)
        height, width = x.shape[:2]
        planes = self.layers[0].input_planes(height, width, x.shape[2])
        self.layers[0].write(planes, x)
        pairs = zip(self.layers[:-1:2], self.layers[1::2], self.layers[2::2], strict=True)
        for i, (conv, gdn, after) in enumerate(pairs):
            q, magnitudes = conv(planes, height, width, tables[2 * i])
            height, width = 2 * height, 2 * width
            planes = gdn(q, magnitudes, tables[2 * i + 1], after)
        return self.layers[-1](planes, height, width, tables[-1])


class _Deconv:
    """ConvTranspose2d(stride 2, odd k x k, padding k // 2, output padding 1) from the grid of
    `step` onto that of `after`, or, for the last layer, to 8-bit pixels.

    Four output phases, as in synthesis_int. Its input rows (the flattened zero-padded planes)
    lie side by side with the rows after them (`input_planes`), so that the taps of a phase that
    share a row shift are one window of whole rows: one product each, nothing gathered."""

    def __init__(self, layer: Layer, digits: int, last: bool) -> None:
        weight = np.asarray(layer["weight"], dtype=np.float64)  # (C_in, C_out, k, k)
        c_in, c_out, k, k_x = weight.shape
        if k != k_x or k % 2 == 0 or k < 3:
            raise TypeError(f"unsupported transposed convolution of kernel {k} x {k_x}")
        largest = 127 if digits == 1 else 127 * 256 + 127  # two int8 digits, as _split's
        w, self.w_step = _weights_on_grid(weight, (0, 2, 3), largest)
        bias = layer.get("bias")
        self.bias = np.zeros(c_out) if bias is None else np.asarray(bias, dtype=np.float64)
        self.digits, self.last, self.c_out, self.k = digits, last, c_out, k
        self.pad = (k // 2 + 1) // 2  # the largest shift any phase reads
        self.phases = [_phase_taps(k, py, px) for py in range(2) for px in range(2)]
        # synthesis_int's digits stand for q - 128; it adds 128 times these sums back
        sums = [sum(w[:, :, ky, kx].sum(axis=0) for _, _, ky, kx in t) for t in self.phases]
        self.weight_sums = 128 * np.stack(sums)  # (4, C_out)
        # Few output channels (the last layer): one product of every input row with every tap,
        # then shifted sums, instead of products with 3 columns.
        self.every_tap = last and k * k * c_out <= c_in
        self.shifts = 1 if self.every_tap else 2 * self.pad + 1  # rows side by side
        if self.every_tap:  # (k k C_out, C_in): tap ky k + kx, then the output channel
            self.every = np.ascontiguousarray(w.transpose(2, 3, 1, 0).reshape(-1, c_in))
        else:  # per phase, per row shift: (first column shift, (column shifts x C_in, C_out))
            self.weights = [_row_weights(w, taps) for taps in self.phases]

    def on_grid(self, step: float, after: float | None) -> Table:
        """Offsets (bias, in units of the sums) and output scales for inputs on the grid of `step`
        and outputs on that of `after` (None: pixels), in synthesis_int's float64 steps."""
        rounded = np.rint(self.bias / (self.w_step * step))
        offsets = rounded + self.weight_sums  # synthesis_int's, for the digits' sums
        scale = self.w_step * step * (255 if self.last else 1 / after)
        if self.digits == 1:
            if np.abs(offsets).max() >= 2**29:
                raise ValueError("the bias is out of the int32 range of the sums on this grid")
            offsets = np.broadcast_to(rounded, offsets.shape)  # exact: for the whole sums
        return {"offsets": offsets, "scale": scale.astype(np.float32)}

    def input_planes(self, height: int, width: int, channels: int) -> np.ndarray:
        """Zeros for the padded input (h + 2 pad + 1 rows of w + 2 pad, one spare row below so
        that every window stays inside), flattened to rows, each beside its next shifts - 1."""
        rows = (height + 2 * self.pad + 1) * (width + 2 * self.pad) - self.shifts + 1
        return np.zeros((rows, self.shifts * channels))

    def write(self, planes: np.ndarray, values: np.ndarray) -> None:
        """The input (h, w, c) into `planes` (input_planes): each value into the row that holds
        it and, shifted, into the shifts - 1 rows before."""
        height, width, channels = values.shape
        stride = width + 2 * self.pad
        for b in range(self.shifts):
            start = self.pad * stride + self.pad - b
            # whole rows of a C-contiguous array: the reshape is a view
            rows = planes[start : start + height * stride].reshape(height, stride, -1, channels)
            rows[:, :width, b] = values

    def __call__(
        self, planes: np.ndarray, height: int, width: int, table: Table
    ) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
        """The input planes -> the output (2 h, 2 w, C_out) on the next grid and its magnitudes
        (float32, integer values), or the last layer's pixels (2 h, 2 w, 3) uint8."""
        out = np.empty((height, 2, width, 2, self.c_out), dtype=np.float32)
        stride = width + 2 * self.pad
        phases = self._every_tap_sums if self.every_tap else self._phase_sums
        for index, sums in enumerate(phases(planes, height, stride)):
            self._scale(sums, index, table, out[:, index // 2, :, index % 2])
        out = out.reshape(2 * height, 2 * width, self.c_out)
        if self.last:
            return _round_clip(out, 0, 255).astype(np.uint8)
        q = _round_clip(out, LOW, HIGH)
        return q, _magnitudes(q)

    def _scale(self, sums: np.ndarray, index: int, table: Table, out: np.ndarray) -> None:
        """A phase's exact sums q . w (h, w + 2 pad, C_out) plus bias, converted to float32 (one
        rounding, as the kernels' int64 to float32) and times the scale, into out (h, w, C_out)."""
        if self.digits == 2:
            # synthesis_int joins the digits' sums (q - 128) . w, then adds its float64 offsets:
            # on a fine grid these pass 2^53 and the addition rounds, so the same two steps.
            sums -= self.weight_sums[index]
        sums += table["offsets"][index]
        # dtype float32: convert, then multiply in float32 (not in float64, then convert)
        np.multiply(sums[:, : out.shape[1]], table["scale"], out=out, dtype=np.float32)

    def _phase_sums(self, planes: np.ndarray, height: int, stride: int) -> Iterator[np.ndarray]:
        """Each phase's exact sums q . w (h, stride, C_out) float64, one product per row shift."""
        count, channels = height * stride, planes.shape[1] // self.shifts
        for weights in self.weights:
            sums = temporary = None
            for a, (first, w) in weights.items():
                columns = slice(first * channels, first * channels + w.shape[0])
                window = planes[a * stride : a * stride + count, columns]
                if sums is None:
                    sums = window @ w
                else:
                    temporary = np.matmul(window, w, out=temporary)
                    sums += temporary
            yield sums.reshape(height, stride, self.c_out)

    def _every_tap_sums(self, planes: np.ndarray, height: int, stride: int) -> Iterator[np.ndarray]:
        """Each phase's exact sums from the products (k k C_out, rows) of every tap with every
        input row, channels first so that each tap's shifted sum is a few long runs."""
        count = height * stride
        products = self.every @ planes.T
        for taps in self.phases:
            sums = np.zeros((self.c_out, count))
            for a, b, ky, kx in taps:
                start, tap = a * stride + b, (ky * self.k + kx) * self.c_out
                sums += products[tap : tap + self.c_out, start : start + count]
            yield sums.T.reshape(height, stride, self.c_out)


def _phase_taps(k: int, py: int, px: int) -> list[tuple[int, int, int, int]]:
    """The taps of output phase (py, px): (row shift, column shift, ky, kx), the shifts counted
    in the padded input (dy + pad, dx + pad), as synthesis_int orders them."""
    half = k // 2
    pad = (half + 1) // 2
    return [
        ((py + half - ky) // 2 + pad, (px + half - kx) // 2 + pad, ky, kx)
        for ky in range((py + half) % 2, k, 2)
        for kx in range((px + half) % 2, k, 2)
    ]


def _row_weights(w: np.ndarray, taps: list) -> dict[int, tuple[int, np.ndarray]]:
    """A phase's weights per row shift: its first column shift, and its taps' (C_in, C_out)
    weights stacked by column shift (consecutive: the columns of one window)."""
    rows: dict[int, list[tuple[int, int, int]]] = {}
    for a, b, ky, kx in taps:
        rows.setdefault(a, []).append((b, ky, kx))
    stacked = {}
    for a, columns in rows.items():
        columns.sort()
        stacked[a] = (columns[0][0], np.concatenate([w[:, :, ky, kx] for _, ky, kx in columns]))
    return stacked


class _InverseGDN:
    """IGDN(x)_i = x_i (beta_i + sum_j gamma_ij |x_j|) from the grid of `step` to `after`."""

    def __init__(self, layer: Layer) -> None:
        # squared in float64, as the float64 copy of the torch layer would
        beta = np.maximum(np.asarray(layer["beta_sqrt"], dtype=np.float64), BETA_MIN**0.5)
        gamma = np.maximum(np.asarray(layer["gamma_sqrt"], dtype=np.float64), 0.0)
        g, self.g_step = _weights_on_grid(gamma * gamma, (1,), 127)  # rows: output channels
        self.beta = (beta * beta).astype(np.float32)
        # exact in float32 while every sum stays below 2^24, else in float64, then one rounding
        exact = g.shape[0] * 127 * 127 <= FLOAT32_EXACT
        self.gamma = np.ascontiguousarray(g.T, dtype=np.float32 if exact else np.float64)

    def on_grid(self, step: float, after: float) -> Table:
        """gamma's step for magnitudes |q| / 64 on the grid of `step`, and the ratio of the
        grids (powers of two: both exact)."""
        g_step = self.g_step * (step * MAGNITUDE_STEP)
        return {"g_step": g_step.astype(np.float32), "ratio": np.float32(step / after)}

    def __call__(
        self, q: np.ndarray, magnitudes: np.ndarray, table: Table, after: _Deconv
    ) -> np.ndarray:
        """q (h, w, c) and its magnitudes (float32) -> the input planes of the convolution
        `after`."""
        height, width, channels = q.shape
        products = magnitudes.reshape(-1, channels).astype(self.gamma.dtype, copy=False)
        norm = (products @ self.gamma).astype(np.float32, copy=False).reshape(q.shape)
        # norm = float32(products) * g_step + beta, then norm * q * ratio: one rounding each
        norm *= table["g_step"]
        norm += self.beta
        norm *= q
        norm *= table["ratio"]
        planes = after.input_planes(height, width, channels)
        after.write(planes, _round_clip(norm, LOW, HIGH))
        return planes


def _weights_on_grid(w: np.ndarray, axes: tuple, largest: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer weights (float64) and their step per output channel, each channel's largest at
    `largest`: the float64 operations of synthesis_int."""
    step = np.abs(w).max(axis=axes, keepdims=True) / largest
    step = np.where(step > 0, step, 1.0)
    return np.rint(w / step), step.ravel()


def _round_clip(x: np.ndarray, low: int, high: int) -> np.ndarray:
    """x rounded half to even and clipped, in place."""
    return np.clip(np.rint(x, out=x), low, high, out=x)


def _magnitudes(q: np.ndarray) -> np.ndarray:
    """|q| / 64 rounded, at most 127: synthesis_int's (|q| + 32) >> 6 in exact float32 steps."""
    magnitudes = np.abs(q)
    magnitudes += MAGNITUDE_STEP // 2
    magnitudes *= np.float32(1 / MAGNITUDE_STEP)
    return np.minimum(np.floor(magnitudes, out=magnitudes), 127, out=magnitudes)

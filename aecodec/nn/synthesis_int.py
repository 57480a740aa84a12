"""The synthesis transform in integers: exact on every machine, and fast.

Each layer's input lives on a fixed-point grid (a step of 2^e per layer, chosen by the encoder
for each image by `grid_for` and written in the file) as 14-bit integers, and the weights are
8-bit integers per output channel (the first layer's 16-bit), so every product is an integer and
every sum is exact. A 14-bit number q is two int8 digits, its high byte and its low byte less
128 (q = 256 hi + lo + 128: the bytes of q's int16 form, one bit flipped), and the products of
digits are summed in int32 by torch._int_mm, which runs on the CPU's int8 dot-product units
(VNNI, AMX), far faster than float64 products. The inverse GDN's normalisation
(beta + gamma |x|, a sum over all channels) takes |q| / 64 rounded, one digit. Between products,
one compiled pass per layer (synthesis_kernels) scales and rounds the exact sums onto the next
grid by single float32 operations (convert, multiply, add, round half to even), each correctly
rounded by IEEE 754 and so the same on every machine: the pixels depend on the file alone,
whatever the thread count or matrix library. Where int8 products come out wrong (pairs
saturating int16 on CPUs without VNNI) or slowly (without int8 units, _int_mm may take ten
times as long as float32 products), `_exact_mm` multiplies the same integers in float32, in
slices short enough that every sum is exact too (`_product_kind` decides once per process).

The quantisation costs 0.3 % BD-rate against the float64 synthesis on Kodak
(bench/synthesis.py); the synthesis runs four times as fast.
"""

import copy
import functools
import time

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from aecodec.bitstream import GRID_RANGE
from aecodec.gains import round_significant
from aecodec.nn.gdn import GDN
from aecodec.nn.synthesis64 import doubling_kernel

ACTIVATION_BITS = 14  # so that 256 * (high-digit sums) + (low-digit sums) fits int32 exactly
LOW, HIGH = -(1 << (ACTIVATION_BITS - 1)), (1 << (ACTIVATION_BITS - 1)) - 1
MAGNITUDE_STEP = 64  # the inverse GDN's normalisation sees |q| in steps of 64 (7 bits)
HEADROOM = 2.0  # the ranges the encoder measures are doubled: the decoder's rarely clip


class IntegerSynthesis(nn.Module):
    """An integer copy of a synthesis of stride-2 ConvTranspose2d and inverse GDN layers.

    Called with the gained y_hat (1, M, h, w), the inverse gain (M,) from `gain_grid` and a
    grid (`grid[i]` sets layer i's input grid: steps of 2 ** grid[i]), it returns the pixels
    (1, 3, 16 h, 16 w) as uint8. The weights are converted once; a grid's scales and offsets
    (a few vectors) when it is first met."""

    def __init__(self, synthesis: nn.Sequential) -> None:
        super().__init__()
        layers = list(synthesis)
        if not layers or not isinstance(layers[-1], nn.ConvTranspose2d):
            raise TypeError("the synthesis must end on a transposed convolution")
        converted: list[nn.Module] = []
        for i, layer in enumerate(layers):
            if isinstance(layer, nn.ConvTranspose2d):
                digits = 2 if i == 0 else 1  # 8-bit weights cost the first layer 0.05 dB
                converted.append(_IntegerDeconv(layer, digits, last=i == len(layers) - 1))
            elif isinstance(layer, GDN) and layer.inverse:
                converted.append(_IntegerInverseGDN(layer))
            else:
                raise TypeError(f"no integer form for {type(layer).__name__}")
        for layer, after in zip(converted, converted[1:], strict=False):
            if isinstance(layer, _IntegerInverseGDN):
                layer.pad = after.pad  # it writes the next convolution's padded input
        self.layers = nn.ModuleList(converted)

    @functools.lru_cache(maxsize=64)  # noqa: B019 (one synthesis per model, kept anyway)
    def tables(self, grid: tuple[int, ...]) -> list[dict[str, Tensor]]:
        """Each layer's grid-dependent vectors for `grid`."""
        if len(grid) != len(self.layers):
            raise ValueError(f"a grid of {len(grid)} layers for a synthesis of {len(self.layers)}")
        steps = [2.0 ** int(e) for e in grid] + [None]
        return [layer.on_grid(steps[i], steps[i + 1]) for i, layer in enumerate(self.layers)]

    @torch.no_grad()
    def forward(self, y_hat: Tensor, inverse_gain: Tensor, grid: tuple[int, ...]) -> Tensor:
        if y_hat.shape[0] != 1:
            raise ValueError("IntegerSynthesis takes one image at a time")
        tables = self.tables(tuple(grid))
        # Exact: a float32 y_hat times a 20-bit gain fits float64's 53 bits; the step is 2^e.
        x = y_hat[0].permute(1, 2, 0).to(torch.float64) * (inverse_gain / 2.0 ** grid[0])
        q = _on_grid(x)
        height, width, channels = q.shape
        planes = _new_planes(height, width, channels, self.layers[0].pad)
        _digit_planes(q, _inside(planes, height, width, self.layers[0].pad))
        magnitudes = q  # each inverse GDN follows a convolution, which sets them
        for layer, table in zip(self.layers, tables, strict=True):
            if isinstance(layer, _IntegerInverseGDN):
                planes = layer(q, magnitudes, table)
            elif layer.last:
                return layer(planes, height, width, table).permute(2, 0, 1)[None]
            else:
                q, magnitudes = layer(planes, height, width, table)
                height, width = q.shape[:2]
        raise TypeError("the synthesis must end on a convolution")


def gain_grid(gain: Tensor) -> Tensor:
    """Gains rounded to 20 significant bits (aecodec.gains.round_significant), in float64: the
    rule of version 4 files, whose gains come from torch's float32 pow (version 5 mixes them in
    float64: aecodec.gains says why)."""
    return torch.from_numpy(round_significant(gain.detach().flatten().double().numpy()))


@torch.no_grad()
def grid_for(synthesis: nn.Sequential, x: Tensor, window: int = 16, windows: int = 4) -> list[int]:
    """The grid exponent of each layer's input for the synthesis input x (1, M, h, w): the
    smallest power-of-two step that holds HEADROOM times the largest magnitude the float
    synthesis meets, on the whole of x or, for large images, on `windows` windows of `window`
    latent samples spread over it (the first layer sees all of x). Values beyond the grid are
    clipped when decoding: a few pixels a little off, never a wrong file."""
    _, _, h, w = x.shape
    rows = _spread(h, window, windows)
    cols = _spread(w, window, windows)
    crops = [x[:, :, r : r + window, c : c + window] for r, c in zip(rows, cols, strict=True)]
    peaks = [0.0] * len(synthesis)
    for crop in crops:
        for i, layer in enumerate(synthesis):
            peaks[i] = max(peaks[i], float(crop.abs().max()))
            crop = layer(crop)
    peaks[0] = max(peaks[0], float(x.abs().max()))
    exponents = [int(np.ceil(np.log2(max(p, 1e-9) * HEADROOM / HIGH))) for p in peaks]
    return [min(max(e, GRID_RANGE[0]), GRID_RANGE[1]) for e in exponents]


def _spread(size: int, window: int, count: int) -> list[int]:
    """`count` window starts spread evenly over `size` (all 0 when one window covers it)."""
    if size <= window:
        return [0] * count
    return [round(i * (size - window) / max(count - 1, 1)) for i in range(count)]


def _on_grid(x: Tensor) -> Tensor:
    """Round half to even and clip to 14 bits: int16 (x is overwritten)."""
    return x.round_().clamp_(LOW, HIGH).to(torch.int16)


def _magnitudes(q: Tensor) -> Tensor:
    """|q| / 64 rounded, at most 127 (int8): the 7 bits of the magnitudes that the inverse GDN's
    normalisation needs (it sums 128 of them)."""
    return q.abs().add_(32).bitwise_right_shift_(6).clamp_(max=127).to(torch.int8)


def _new_planes(height: int, width: int, channels: int, pad: int) -> Tensor:
    """Digit planes (2, height + 2 pad + 1, width + 2 pad, channels) of a zero-padded input,
    the padding's digits set (high 0, low -128: the digits of 0); the inside is to be filled.
    One more padding row below, so that every phase reads whole rows of the padded width. int8,
    or their values in float32 where the products are float32's (`_float32_products`)."""
    dtype = torch.float32 if _product_kind() == "float32" else torch.int8
    planes = torch.empty((2, height + 2 * pad + 1, width + 2 * pad, channels), dtype=dtype)
    for border in (planes[:, :pad], planes[:, pad + height :], planes[:, :, :pad],
                   planes[:, :, pad + width :]):  # fmt: skip
        border[0].zero_(), border[1].fill_(-128)
    return planes


def _inside(planes: Tensor, height: int, width: int, pad: int) -> Tensor:
    return planes[:, pad : pad + height, pad : pad + width]


def _digit_planes(q: Tensor, out: Tensor) -> Tensor:
    """int16 values q as int8 digits into out (2, *q.shape): [high byte, low byte - 128]."""
    digits = out if out.dtype == torch.int8 else torch.empty(out.shape, dtype=torch.int8)
    torch.bitwise_right_shift(q, 8, out=digits[0])  # the high byte, signed
    digits[1].copy_(q).bitwise_xor_(-128)  # the low byte (int16 to int8 keeps it), top bit flipped
    return out if digits is out else out.copy_(digits)


def _weights_on_grid(w: Tensor, dims: tuple[int, ...], digits: int) -> tuple[Tensor, Tensor]:
    """Integer weights (int64) and their step per output channel (dim 1 of a deconvolution,
    dim 0 of a matrix), each channel's largest at full scale."""
    largest = 127 if digits == 1 else 127 * 256 + 127
    step = w.abs().amax(dim=dims, keepdim=True) / largest
    step = torch.where(step > 0, step, torch.ones_like(step))
    return torch.round(w / step).to(torch.int64), step.flatten()


def _split(w: Tensor) -> Tensor:
    """16-bit integer weights (N, K) as int8 digits stacked on N: [high; low], w = 256 h + l."""
    low = torch.bitwise_and(w + 128, 255) - 128
    return torch.cat([(w - low) // 256, low]).to(torch.int8)


class _IntegerDeconv(nn.Module):
    """ConvTranspose2d(stride 2, odd k x k, padding k // 2, output padding 1) from the grid of
    `step` onto the grid of `after`, or, for the last layer (`after` None), to 8-bit pixels.

    Four output phases; each is one product of the input rows shifted by its taps (gathered side
    by side) with its taps' weights."""

    def __init__(self, conv: nn.ConvTranspose2d, digits: int, last: bool) -> None:
        super().__init__()
        k = doubling_kernel(conv)
        weight = conv.weight.detach().to(torch.float64)  # (C_in, C_out, k, k)
        c_in, c_out = weight.shape[:2]
        w, self.w_step = _weights_on_grid(weight, (0, 2, 3), digits)
        bias = conv.bias.detach() if conv.bias is not None else torch.zeros(c_out)
        self.bias = bias.to(torch.float64)
        self.last = last
        self.digits, self.c_out, self.half, self.pad = digits, c_out, k // 2, (k // 2 + 1) // 2
        self.n = -c_out % 8 + c_out  # int8 products want 8-aligned widths
        # Few output channels (the last layer): one product of every input row with every tap,
        # then shifted sums of its columns, instead of gathering the input once per tap.
        self.every_tap = self.last and digits == 1 and k * k * c_out <= c_in
        self.taps: list[list[tuple[int, int, int]]] = []  # per phase: (dy, dx, tap index)
        weights, sums = [], []
        for py in range(2):
            for px in range(2):
                taps, rows = [], []
                for ky in range((py + self.half) % 2, k, 2):
                    for kx in range((px + self.half) % 2, k, 2):
                        dy, dx = (py + self.half - ky) // 2, (px + self.half - kx) // 2
                        taps.append((dy, dx, ky * k + kx))
                        rows.append(w[:, :, ky, kx].t())  # (c_out, c_in)
                self.taps.append(taps)
                phase = torch.cat(rows, dim=1)  # (c_out, taps * c_in)
                # The digits stand for q - 128: add back 128 times the phase's weights' sum.
                sums.append(128 * phase.sum(dim=1))
                phase = F.pad(phase, (0, 0, 0, self.n - c_out))
                weights.append(phase.to(torch.int8) if digits == 1 else _split(phase))
        if self.every_tap:  # (taps * c_out, c_in), rows padded to a multiple of 8
            every = w.permute(2, 3, 1, 0).reshape(k * k * c_out, -1)
            weights = [F.pad(every, (0, 0, 0, -every.shape[0] % 8)).to(torch.int8)]
            # Per phase: (rows down, columns across in the padded input, tap) of each of its taps.
            table = torch.zeros(4, max(len(t) for t in self.taps), 3, dtype=torch.int64)
            for phase, taps in enumerate(self.taps):
                for i, (dy, dx, tap) in enumerate(taps):
                    table[phase, i] = torch.tensor([dy + self.pad, dx + self.pad, tap])
            self.register_buffer("tap_rows", table)
            self.register_buffer("tap_count", torch.tensor([len(t) for t in self.taps]))
        self.weights = weights
        self.float32_weights: dict[int, list[Tensor]] = {}  # per phase, where products are float32
        self.weight_sums = torch.stack(sums).to(torch.float64)  # (4, c_out)

    def on_grid(self, step: float, after: float | None) -> dict[str, Tensor]:
        """The offsets (bias and digit correction, in units of the sums) and output scales for
        inputs on the grid of `step` and outputs on that of `after` (None: pixels)."""
        offsets = torch.round(self.bias / (self.w_step * step)) + self.weight_sums
        scale = self.w_step * step * (255 if self.last else 1 / after)
        if self.digits == 1 and offsets.abs().max() >= 2**29:
            raise ValueError("the bias is out of the int32 range of the sums on this grid")
        dtype = torch.int32 if self.digits == 1 else torch.float64
        return {"offsets": offsets.to(dtype), "scale": scale.to(torch.float32)}

    def forward(
        self, planes: Tensor, height: int, width: int, table: dict[str, Tensor]
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Digit planes of the padded input (_new_planes) -> the output on the next grid (int16)
        and its magnitudes (_magnitudes, for the inverse GDN), or the last layer's pixels."""
        pad, c_in = self.pad, planes.shape[-1]
        offsets, scale = table["offsets"], table["scale"]
        stride = width + 2 * pad  # output row j, column i sits at j * stride + i
        rows = planes.view(2, -1, c_in)
        count = height * stride
        if self.digits == 1 and not self.last:
            q = torch.empty(2 * height, 2 * width, self.c_out, dtype=torch.int16)
            magnitudes = torch.empty(2 * height, 2 * width, self.c_out, dtype=torch.int8)
            for index in range(4):
                products = self._products(rows, count, stride, index)
                kernels().in_parallel(
                    kernels().deconv_phase, height, products.numpy(), offsets[index].numpy(),
                    scale.numpy(), width, stride, index // 2, index % 2, q.numpy(),
                    magnitudes.numpy(),
                )  # fmt: skip
            return q, magnitudes
        if self.every_tap:
            products = _exact_mm(rows.reshape(2 * rows.shape[1], -1), self.weights[0])
            pixels = torch.empty(2 * height, 2 * width, self.c_out, dtype=torch.uint8)
            starts = self.tap_rows[..., 0] * stride + self.tap_rows[..., 1]
            taps = torch.stack([starts, self.tap_rows[..., 2]], dim=-1)
            kernels().in_parallel(
                kernels().last_layer, height, products.numpy(), taps.numpy(),
                self.tap_count.numpy(), offsets.numpy(), scale.numpy(), width, stride,
                pixels.numpy(),
            )  # fmt: skip
            return pixels
        out = torch.empty(height, 2, width, 2, self.c_out)  # (2 height, 2 width, c_out)
        for index in range(4):
            products = self._products(rows, count, stride, index)
            sums = self._join(products, count, offsets[index]).view(height, stride, -1)
            torch.mul(sums[:, :width], scale, out=out[:, index // 2, :, index % 2])
        out = out.view(2 * height, 2 * width, self.c_out).round_()
        if self.last:
            return out.clamp_(0, 255).to(torch.uint8)
        q = out.clamp_(LOW, HIGH).to(torch.int16)
        return q, _magnitudes(q)

    def _products(self, rows: Tensor, count: int, stride: int, index: int) -> Tensor:
        """A phase's digit products (2 count, digits * n): its taps' shifted rows side by side,
        times its weights."""
        taps, c_in = self.taps[index], rows.shape[-1]
        starts = np.array([(dy + self.pad) * stride + dx + self.pad for dy, dx, _ in taps])
        if rows.dtype == torch.float32:
            return self._float32_products(rows, count, starts, index)
        gathered = torch.empty(2, count, len(taps), c_in, dtype=torch.int8)
        kernels().in_parallel(kernels().gather, count, rows.numpy(), starts, gathered.numpy())
        return _exact_mm(gathered.view(2 * count, -1), self.weights[index])

    def _float32_products(self, rows: Tensor, count: int, starts: np.ndarray, index: int) -> Tensor:
        """`_products` from float32 digit planes, tap by tap: each tap's inputs are a window of
        the padded rows (nothing gathered), its products added in float32 for as many taps as
        keep every sum exact (FLOAT32_SLICE products, as `_float32_mm`), then in int32."""
        weights = self._float32_weights(index)
        together = max(FLOAT32_SLICE // rows.shape[-1], 1)
        products = torch.empty(2 * count, weights[0].shape[1], dtype=torch.int32)
        for digit in range(2):
            total = products[digit * count : (digit + 1) * count]
            for first in range(0, len(starts), together):
                part = None
                for tap in range(first, min(first + together, len(starts))):
                    window = rows[digit, starts[tap] : starts[tap] + count]
                    if part is None:
                        part = window @ weights[tap]
                    else:
                        part.addmm_(window, weights[tap])
                if first:
                    total.add_(part.to(torch.int32))
                else:
                    total.copy_(part)
        return products

    def _float32_weights(self, index: int) -> list[Tensor]:
        """A phase's weights tap by tap, (c_in, digits * n) float32, made on first use."""
        if index not in self.float32_weights:
            weights = self.weights[index]
            c_in = weights.shape[1] // len(self.taps[index])
            self.float32_weights[index] = [
                weights[:, tap * c_in : (tap + 1) * c_in].t().float().contiguous()
                for tap in range(len(self.taps[index]))
            ]
        return self.float32_weights[index]

    def _join(self, products: Tensor, count: int, offsets: Tensor) -> Tensor:
        """(2 count, digits * n) digit products -> the exact sums plus bias (count, c_out)."""
        high, low = products[:count], products[count:]
        if self.digits == 1:  # int32, exact: |256 high + low| < 2^31 at 14 bits, K <= 1152
            sums = torch.add(low[:, : self.c_out], high[:, : self.c_out], alpha=256)
            return sums.add_(offsets)
        n = self.n  # 16-bit weights: float64, exact below 2^53
        high, low = high.to(torch.float64), low.to(torch.float64)
        middle = high[:, n:].add(low[:, :n]).mul_(256.0)
        sums = high[:, :n].mul_(65536.0).add_(middle).add_(low[:, n:])[:, : self.c_out]
        return sums.add_(offsets).to(torch.float32)


class _IntegerInverseGDN(nn.Module):
    """IGDN(x)_i = x_i (beta_i + sum_j gamma_ij |x_j|) from the grid of `step` to `after`."""

    def __init__(self, gdn: GDN) -> None:
        super().__init__()
        with torch.no_grad():  # squared in float64, as the float64 copy of the layer would
            beta, gamma = copy.deepcopy(gdn).double().normalisation()
        g, self.g_step = _weights_on_grid(gamma, (1,), 1)  # rows: output channels
        self.register_buffer("gamma", g.to(torch.int8))  # (C, C)
        self.register_buffer("beta", beta.to(torch.float32))

    def on_grid(self, step: float, after: float) -> dict[str, Tensor]:
        """gamma's step for magnitudes |q| / 64 on the grid of `step`, and the ratio of the
        grids (powers of two: both exact)."""
        g_step = self.g_step * (step * MAGNITUDE_STEP)
        return {"g_step": g_step.to(torch.float32), "ratio": torch.tensor(step / after)}

    def forward(self, q: Tensor, magnitudes: Tensor, table: dict[str, Tensor]) -> Tensor:
        """q (h, w, c) int16 and |q| / 64 (_magnitudes) -> the next convolution's padded digit
        planes."""
        height, width, channels = q.shape
        products = _exact_mm(magnitudes.view(-1, channels), self.gamma)
        planes = _new_planes(height, width, channels, self.pad)
        kernels().in_parallel(
            kernels().inverse_gdn, height, products.numpy(), q.numpy(), table["g_step"].numpy(),
            self.beta.numpy(), np.float32(table["ratio"]), planes.numpy(), self.pad,
        )  # fmt: skip
        return planes


def kernels():
    """The compiled loops (aecodec.nn.synthesis_kernels), imported on first use: numba's import
    and the loading of compiled code cost only the decoders that need them."""
    from aecodec.nn import synthesis_kernels

    return synthesis_kernels


def _exact_mm(a: Tensor, b: Tensor) -> Tensor:
    """a (M, K) @ b (N, K).T of int8 matrices (a may hold its int8 values as float32), summed
    exactly in int32."""
    if _product_kind() == "int8":
        return torch._int_mm(a, b.t())
    if _product_kind() == "float32":
        return _float32_mm(a, b)
    return (a.to(torch.float64) @ b.t().to(torch.float64)).to(torch.int32)


def _float32_mm(a: Tensor, b: Tensor) -> Tensor:
    """The int8 products in float32, exact: in slices of at most FLOAT32_SLICE columns of K, no
    partial sum can pass 2^24 (1024 products of at most 128 x 128), in whatever order the
    matrix library adds them; the slices' sums are then added in int32."""
    sums = None
    for start in range(0, a.shape[1], FLOAT32_SLICE):
        part = (
            a[:, start : start + FLOAT32_SLICE].float()
            @ b[:, start : start + FLOAT32_SLICE].t().float()
        )
        part = part.to(torch.int32)
        sums = part if sums is None else sums.add_(part)
    return sums


FLOAT32_SLICE = 1024  # 1024 * 128 * 128 = 2^24


def _product_kind() -> str:
    """How the int8 digits are multiplied, exactly: "int8" (torch._int_mm) or "float32" as
    `_fastest_kind` found, or "float64" instead of float32 while the process allows float32
    products to lose precision (torch's float32 matmul precision set below "highest"). Every
    kind gives the same sums, so the choice changes speed, never pixels."""
    kind = _fastest_kind()
    if kind == "float32" and torch.get_float32_matmul_precision() != "highest":
        return "float64"
    return kind


@functools.cache
def _fastest_kind() -> str:
    """torch._int_mm where it is exact and quicker (CPUs with int8 dot-product units: VNNI,
    AMX) than float32 products in slices (CPUs without, where _int_mm may take ten times as
    long), measured once per process; else float32."""
    if not _int8_products_exact():
        return "float32"
    generator = torch.Generator().manual_seed(0)
    a = torch.randint(-128, 128, (256, 1152), dtype=torch.int8, generator=generator)
    b = a[:64]  # a few milliseconds either way
    timings = {}
    for kind, multiply in (
        ("int8", lambda: torch._int_mm(a, b.t())),
        ("float32", lambda: _float32_mm(a, b)),
    ):
        multiply()  # warm
        start = time.perf_counter()
        for _ in range(3):
            multiply()
        timings[kind] = time.perf_counter() - start
    return min(timings, key=timings.get)


@functools.cache
def _int8_products_exact() -> bool:
    """Whether torch._int_mm sums int8 products exactly here: its worst cases (which overflow
    int16 pair sums on CPUs without VNNI) and random matrices, against float64."""
    generator = np.random.default_rng(0)
    cases = [np.full((32, 256), v, np.int8) for v in (-128, 127)]
    cases.append(generator.integers(-128, 128, (64, 256), dtype=np.int8))
    try:
        for a in cases:
            for b in cases:
                a_t, b_t = torch.from_numpy(a), torch.from_numpy(b[:16])
                found = torch._int_mm(a_t, b_t.t())
                expected = a_t.to(torch.float64) @ b_t.t().to(torch.float64)
                if not torch.equal(found.to(torch.float64), expected):
                    return False
    except RuntimeError:  # not built into this torch
        return False
    return True

"""The hyper-synthesis in exact integer arithmetic, so that both ends pick the same tables.

The decoder must derive the coder's parameters (Gaussian means and table indices) from z_hat
exactly as the encoder did: one differing index and the rest of the stream is garbage. Floating
point cannot promise that across machines, thread counts or math libraries, because sums are
reordered. Here every value is an integer: weights are rounded to FW fractional bits, activations
to FA fractional bits, and each layer computes

    acc = sum(w_int * a_int) + b_int,   a_next = clamp(floor(acc / 2**FW), +-ACT_MAX)

The products and sums run as float64 matrix products (BLAS), and that is exact: every operand and
every partial sum is an integer below 2**53 in magnitude (checked when the model is frozen), and
IEEE addition and multiplication of such integers is exact whatever the order, blocking or thread
count. Convolutions are unfold + matmul; upsampling is a pixel shuffle (a permutation), never a
transposed convolution; ReLU and floor by a power of two are exact. Table indices then come from
comparing the integer scale with integer thresholds (`table_indexes`).
"""

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aecodec.entropy.numerics import ACT_MAX, EXACT_LIMIT, FA, FW, thresholds
from aecodec.nn.tiling import tiled

HYPER_TILE = 32  # samples of z per tile of the exact hyper-synthesis


class ExactNet(nn.Module):
    """Exact twin of a float network made of Conv2d, PixelShuffle and ReLU layers, on
    fixed-point tensors: float64 tensors of integers that stand for value * 2**FA."""

    def __init__(self, float_layers: nn.Module) -> None:
        super().__init__()
        self.plan: list[tuple[str, int]] = []
        self.taps: dict[int, list[tuple[int, int]]] = {}  # per conv: its non-zero kernel taps
        for i, layer in enumerate(_flatten(float_layers)):
            if isinstance(layer, nn.Conv2d):
                assert layer.stride == (1, 1) and layer.padding[0] == layer.kernel_size[0] // 2
                # Not saved: derived from the stored float weights, which is itself exact.
                w, b = layer.weight, layer.bias
                self.register_buffer(f"w{i}", torch.zeros_like(w, dtype=torch.float64), False)
                self.register_buffer(f"b{i}", torch.zeros_like(b, dtype=torch.float64), False)
                self.plan.append(("conv", i))
            elif isinstance(layer, nn.PixelShuffle):
                self.plan.append(("shuffle", layer.upscale_factor))
            elif isinstance(layer, nn.ReLU):
                self.plan.append(("relu", 0))
            else:
                raise TypeError(f"no exact integer form for {type(layer).__name__}")

    @torch.no_grad()
    def freeze(self, float_layers: nn.Module) -> None:
        """Round the float weights to fixed point and check that no sum can lose precision."""
        for i, layer in enumerate(_flatten(float_layers)):
            if isinstance(layer, nn.Conv2d):
                weight = layer.masked_weight() if hasattr(layer, "masked_weight") else layer.weight
                w = torch.round(weight.double().cpu() * 2**FW)
                b = torch.round(layer.bias.double().cpu() * 2 ** (FA + FW))
                fan_in = w[0].numel()
                if fan_in * w.abs().max() * ACT_MAX + b.abs().max() >= EXACT_LIMIT:
                    raise ValueError(f"layer {i}: weights too large for exact float64 sums")
                getattr(self, f"w{i}").copy_(w)
                getattr(self, f"b{i}").copy_(b)
                self.taps[i] = _nonzero_taps(w)

    @torch.no_grad()
    def forward(self, x: Tensor, positions: Tensor | None = None) -> Tensor:
        """Fixed-point input (N, C, H, W) -> fixed-point output, exactly. With `positions`
        (flat indices into H * W) a one-convolution net computes only there: (N, C', n, 1)."""
        for op, arg in self.plan:
            if op == "conv":
                weight, bias = getattr(self, f"w{arg}"), getattr(self, f"b{arg}")
                x = _conv_exact(x, weight, bias, self.taps[arg], positions)
                positions = None
                # In place (x is the convolution's own): times a power of two is exact.
                x = x.mul_(2.0**-FW).floor_().clamp_(-ACT_MAX, ACT_MAX)
            elif op == "shuffle":
                x = F.pixel_shuffle(x, arg)
            else:
                x = x.clamp_min(0)
        return x


def to_fixed(x: Tensor) -> Tensor:
    """Integer-valued (or already exact binary fraction) values as fixed point, clamped."""
    return (x.double() * 2**FA).clamp_(-ACT_MAX, ACT_MAX)


def gaussian_parameters(params: Tensor) -> tuple[Tensor, Tensor]:
    """Fixed-point (scales, means) channels -> means as float32 and scales still in fixed point
    (for `table_indexes`), exactly."""
    scales, means = params.chunk(2, dim=1)
    return (means * 2.0**-FA).float(), scales


def table_indexes(scales: Tensor, nearest: bool = True) -> Tensor:
    """The Gaussian table (a row of `scale_table()`) that codes each fixed-point scale, chosen by
    integer comparison so that both ends agree. `nearest`: the table nearest in log scale (the
    thresholds are the grid's geometric midpoints), what files of format 2 use; otherwise the
    first table at least as wide (the thresholds are the grid itself, as in CompressAI), format 1.
    The nearest table is closer to the scale the model predicted: with hyperprior-sc-joint on
    BSDS500 images y's code length is 0.1 % above the ideal one with the exact scales, against
    0.45 % with the wider table; BD-rate on Kodak -0.6 %."""
    return torch.searchsorted(torch.from_numpy(thresholds(nearest)), scales.contiguous())


class IntegerHyperSynthesis(ExactNet):
    """The exact hyper-synthesis: integer z_hat -> means and fixed-point scales of y."""

    def forward(self, z_hat: Tensor) -> tuple[Tensor, Tensor]:
        return gaussian_parameters(self.fixed(z_hat))

    def fixed(self, z_hat: Tensor, dtype: torch.dtype = torch.float64) -> Tensor:
        """The fixed-point (scales, means) channels, for a context model to refine; in tiles of
        HYPER_TILE samples of z (exact integers: the same as whole), each made `dtype` as it
        comes (float32 holds them exactly): a 24 MP image's float64 layers at once took 490 MB."""
        whole = super().forward
        return tiled(
            lambda z: whole(to_fixed(z)).to(dtype), z_hat, self.upscale, HYPER_TILE, self.reach
        )

    @property
    def upscale(self) -> int:
        """Samples of the output per sample of z along each side."""
        return math.prod(arg for op, arg in self.plan if op == "shuffle")

    @property
    def reach(self) -> int:
        """The receptive field's radius in samples of z (rounded up): an output depends on z
        within this many samples of it."""
        scale, reach = 1, 0.0
        for op, arg in self.plan:
            if op == "conv":
                reach += getattr(self, f"w{arg}").shape[-1] // 2 / scale
            elif op == "shuffle":
                scale *= arg
        return math.ceil(reach)


def _conv_exact(
    x: Tensor,
    weight: Tensor,
    bias: Tensor,
    taps: list[tuple[int, int]],
    positions: Tensor | None = None,
) -> Tensor:
    """Same-padded stride-1 convolution as float64 matrix products of integers, one per kernel
    tap in `taps` (the non-zero ones: a checkerboard's masked taps are skipped); no unfold, so
    memory stays at the size of the input and output. `x` may be float32 (its integers below
    2**24 exactly, in half the memory): each tap's inputs are made float64. With `positions`,
    only those outputs: (N, out, n, 1), each tap gathering just the inputs those outputs
    read."""
    n, c, h, w = x.shape
    out, _, k, _ = weight.shape
    r = k // 2
    padded = F.pad(x, (r, r, r, r)) if r else x
    count = h * w if positions is None else len(positions)
    y = bias[:, None].expand(out, count).repeat(n, 1, 1)
    if positions is not None:  # flat indices into the padded image, for the tap at (0, 0)
        flat, width = padded.reshape(n, c, -1), w + 2 * r
        corner = positions // w * width + positions % w
    for i, j in taps:
        if positions is None:
            inputs = padded[:, :, i : i + h, j : j + w].reshape(n, c, h * w)
        else:
            inputs = flat[:, :, corner + (i * width + j)]
        y += torch.matmul(weight[:, :, i, j], inputs.double())
    return y.reshape(n, out, h, w) if positions is None else y[..., None]


def _nonzero_taps(weight: Tensor) -> list[tuple[int, int]]:
    return [tuple(t) for t in weight.abs().sum((0, 1)).nonzero().tolist()]


def _flatten(module: nn.Module) -> list[nn.Module]:
    children = list(module.children())
    return [module] if not children else [m for c in children for m in _flatten(c)]

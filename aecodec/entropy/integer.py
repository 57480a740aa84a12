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
comparing the integer scale with stored integer thresholds.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from aecodec.entropy.gaussian import scale_table

FA, FW = 10, 12  # fractional bits of activations and weights
ACT_MAX = 2.0**21
EXACT_LIMIT = 2.0**53


class IntegerHyperSynthesis(nn.Module):
    """Exact twin of a float hyper-synthesis made of Conv2d, PixelShuffle and ReLU layers."""

    def __init__(self, float_layers: nn.Module) -> None:
        super().__init__()
        self.plan: list[tuple[str, int]] = []
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
        thresholds = torch.from_numpy(scale_table()[:-1]) * 2**FA
        self.register_buffer("thresholds", thresholds.floor(), persistent=False)

    @torch.no_grad()
    def freeze(self, float_layers: nn.Module) -> None:
        """Round the float weights to fixed point and check that no sum can lose precision."""
        for i, layer in enumerate(_flatten(float_layers)):
            if isinstance(layer, nn.Conv2d):
                w = torch.round(layer.weight.double().cpu() * 2**FW)
                b = torch.round(layer.bias.double().cpu() * 2 ** (FA + FW))
                fan_in = w[0].numel()
                if fan_in * w.abs().max() * ACT_MAX + b.abs().max() >= EXACT_LIMIT:
                    raise ValueError(f"layer {i}: weights too large for exact float64 sums")
                getattr(self, f"w{i}").copy_(w)
                getattr(self, f"b{i}").copy_(b)

    @torch.no_grad()
    def forward(self, z_hat: Tensor) -> tuple[Tensor, Tensor]:
        """Integer-valued z_hat -> (means as float32, table indices as int64), exactly."""
        x = z_hat.double() * 2**FA
        for op, arg in self.plan:
            if op == "conv":
                x = _conv_exact(x, getattr(self, f"w{arg}"), getattr(self, f"b{arg}"))
                x = torch.floor(x * 2.0**-FW).clamp_(-ACT_MAX, ACT_MAX)
            elif op == "shuffle":
                x = F.pixel_shuffle(x, arg)
            else:
                x = x.clamp_min(0)
        scales, means = x.chunk(2, dim=1)
        indexes = torch.searchsorted(self.thresholds, scales.contiguous())
        return (means * 2.0**-FA).float(), indexes


def _conv_exact(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """Same-padded stride-1 convolution as one float64 matrix product of integers."""
    n, _, h, w = x.shape
    out, _, k, _ = weight.shape
    cols = x.reshape(n, -1, h * w) if k == 1 else F.unfold(x, k, padding=k // 2)
    y = torch.matmul(weight.reshape(out, -1), cols) + bias[:, None]
    return y.reshape(n, out, h, w)


def _flatten(module: nn.Module) -> list[nn.Module]:
    children = list(module.children())
    return [module] if not children else [m for c in children for m in _flatten(c)]

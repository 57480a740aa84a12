"""The synthesis transform in float64 for the exact decoder, laid out for CPUs.

PyTorch runs a float64 transposed convolution through a column buffer as large as the output
times the kernel's area (25x for 5x5), and that memory traffic dominated decoding. Here a
stride-2 transposed convolution is four output phases, each a sum of one matrix product per
kernel tap over the channels-last rows of the zero-padded input: a shift of the image is an
offset into its rows, so no buffer is larger than the output. The arithmetic is the same up to
the order of float64 additions, far below what could move a rounding to 8 bits.
"""

import copy

import torch
from torch import Tensor, nn

from aecodec.nn.gdn import GDN


class Float64Synthesis(nn.Module):
    """A float64 copy of a synthesis made of stride-2 ConvTranspose2d and GDN layers.

    Takes and returns NCHW tensors (batch 1) like the module it copies."""

    def __init__(self, synthesis: nn.Sequential) -> None:
        super().__init__()
        self.layers = nn.ModuleList(_convert(layer) for layer in synthesis)

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        if x.shape[0] != 1:
            raise ValueError("Float64Synthesis takes one image at a time")
        h = x[0].permute(1, 2, 0).to(torch.float64)  # (H, W, C)
        for layer in self.layers:
            h = layer(h)
        return h.permute(2, 0, 1)[None]


def _convert(layer: nn.Module) -> nn.Module:
    if isinstance(layer, nn.ConvTranspose2d):
        return _PhaseConvTranspose(layer)
    if isinstance(layer, GDN):
        return _ChannelsLastGDN(layer)
    raise TypeError(f"no float64 channels-last form for {type(layer).__name__}")


def doubling_kernel(conv: nn.ConvTranspose2d) -> int:
    """The kernel size k of a ConvTranspose2d(stride 2, odd k x k, padding k // 2, output padding
    1), the layer that doubles the image and that both exact syntheses compute as four phases;
    TypeError for any other."""
    k = conv.kernel_size[0]
    expected = ((k, k), (2, 2), (k // 2, k // 2), (1, 1), (1, 1), 1)
    found = (conv.kernel_size, conv.stride, conv.padding, conv.output_padding,
             conv.dilation, conv.groups)  # fmt: skip
    if k % 2 == 0 or k < 3 or found != expected:
        raise TypeError(f"unsupported transposed convolution: {conv}")
    return k


class _PhaseConvTranspose(nn.Module):
    """ConvTranspose2d(stride 2, odd k x k kernel, padding k // 2, output_padding 1): 2x size."""

    def __init__(self, conv: nn.ConvTranspose2d) -> None:
        super().__init__()
        k = doubling_kernel(conv)
        weight = conv.weight.detach().to(torch.float64)  # (C_in, C_out, k, k)
        self.register_buffer("taps", weight.permute(2, 3, 0, 1).contiguous())  # (k, k, in, out)
        bias = conv.bias.detach() if conv.bias is not None else weight.new_zeros(weight.shape[1])
        self.register_buffer("bias", bias.to(torch.float64))
        self.kernel = k
        self.pad = (k // 2 + 1) // 2  # the largest input shift any phase reads
        # Few output channels (the last layer): one product of every input row with every tap,
        # then shifted sums of its columns, reads the input once instead of once per tap.
        c_in, c_out = weight.shape[:2]
        every_tap = None
        if k * k * c_out <= c_in:
            every_tap = self.taps.reshape(k * k, c_in, c_out).permute(0, 2, 1).reshape(-1, c_in)
        self.register_buffer("every_tap", every_tap)  # (taps * out, in), or None

    def forward(self, h: Tensor) -> Tensor:
        height, width, channels = h.shape
        pad, half, k = self.pad, self.kernel // 2, self.kernel
        padded = h.new_empty(height + 2 * pad, width + 2 * pad, channels)
        for border in (padded[:pad], padded[-pad:], padded[:, :pad], padded[:, -pad:]):
            border.zero_()
        padded[pad : pad + height, pad : pad + width] = h
        rows_of = padded.view(-1, channels)
        stride = width + 2 * pad  # output row j, column i sits at j * stride + i
        count = (height - 1) * stride + width
        c_out = self.taps.shape[3]
        products = None
        if self.every_tap is not None:  # (taps * out, in) @ (in, rows): row-major per tap
            products = (self.every_tap @ rows_of.t()).view(k, k, c_out, -1)
        out = h.new_empty(2, 2, height, stride, c_out)
        for py in range(2):
            for px in range(2):
                acc = out[py, px].view(-1, c_out)[:count]
                acc.copy_(self.bias.expand_as(acc))
                # out[2j + py] gathers in[j + (py + half - ky) / 2] * w[ky], ky of py's parity
                for ky in range((py + half) % 2, k, 2):
                    for kx in range((px + half) % 2, k, 2):
                        dy, dx = (py + half - ky) // 2, (px + half - kx) // 2
                        start = (dy + pad) * stride + dx + pad
                        if products is None:
                            acc.addmm_(rows_of[start : start + count], self.taps[ky, kx])
                        else:
                            acc += products[ky, kx, :, start : start + count].t()
        out = out[:, :, :, :width].permute(2, 0, 3, 1, 4)  # (j, py, i, px, c)
        return out.reshape(2 * height, 2 * width, c_out)


class _ChannelsLastGDN(nn.Module):
    """GDN or inverse GDN with its effective beta and gamma precomputed in float64."""

    def __init__(self, gdn: GDN) -> None:
        super().__init__()
        with torch.no_grad():  # squared in float64, as the float64 copy of the layer would
            beta, gamma = copy.deepcopy(gdn).double().normalisation()
        self.register_buffer("beta", beta)
        self.register_buffer("gamma_t", gamma.t().contiguous())
        self.inverse = gdn.inverse

    def forward(self, h: Tensor) -> Tensor:
        flat = h.reshape(-1, h.shape[-1])
        norm = torch.addmm(self.beta, flat.abs(), self.gamma_t)
        norm = norm.mul_(flat) if self.inverse else torch.div(flat, norm, out=norm)
        return norm.view_as(h)

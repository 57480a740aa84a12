"""Convolutions with the padding conventions of learned image codecs."""

from torch import nn


def conv(in_ch: int, out_ch: int, kernel: int = 5, stride: int = 2) -> nn.Conv2d:
    """Same-padded convolution that downsamples by `stride`."""
    return nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2)


def deconv(in_ch: int, out_ch: int, kernel: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    """Transposed convolution that upsamples by exactly `stride`."""
    return nn.ConvTranspose2d(
        in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, output_padding=stride - 1
    )


def subpel_up(in_ch: int, out_ch: int, kernel: int = 3, factor: int = 2) -> nn.Sequential:
    """Sub-pixel upsampling (Shi et al. 2016): a convolution then a pixel shuffle.

    Used where the integer path must reproduce the layer exactly: a plain convolution and a
    permutation, nothing that sums overlapping outputs."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch * factor**2, kernel, padding=kernel // 2), nn.PixelShuffle(factor)
    )

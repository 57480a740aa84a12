"""A gated-convolution U-Net that fills holes in photos.

Yu, Lin, Yang, Shen, Lu and Huang, "Free-Form Image Inpainting with Gated Convolution", ICCV 2019:
every convolution computes features and a soft gate from the same input, so the network learns
where a pixel's evidence comes from (known pixels, filled-in ones, or nothing yet) instead of
being told by a hand-made rule as in partial convolutions (Liu et al., ECCV 2018). The U-Net
(Ronneberger et al., MICCAI 2015) works at half resolution (pixels folded into channels) and
halves it `len(widths) - 1` more times; dilated gated
convolutions at the bottom widen the receptive field further, so that the middle of a 64x64 hole
still sees known pixels.

The input is the image with its holes set to grey plus the mask (1 = fill); the output is a full
image, of which `RepairNet.fill` keeps only the hole pixels: known pixels come back exactly.
"""

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class GatedConv(nn.Module):
    """ELU(features) * sigmoid(gate), both from one 3x3 convolution with twice the channels."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, 2 * c_out, 3, stride, padding=dilation, dilation=dilation)

    def forward(self, x: Tensor) -> Tensor:
        features, gate = self.conv(x).chunk(2, dim=1)
        return F.elu(features) * torch.sigmoid(gate)


class Down(nn.Module):
    """Halve the resolution (a stride-2 gated conv), then one more gated conv."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(GatedConv(c_in, c_out, stride=2), GatedConv(c_out, c_out))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class Up(nn.Module):
    """Double the resolution (nearest neighbour), join the skip connection, one gated conv."""

    def __init__(self, c_in: int, c_skip: int, c_out: int) -> None:
        super().__init__()
        self.conv = GatedConv(c_in + c_skip, c_out)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
        return self.conv(torch.cat([x, skip], dim=1))


@dataclass
class RepairConfig:
    widths: list[int] = field(default_factory=lambda: [32, 64, 96, 128])  # channels per scale
    dilations: list[int] = field(default_factory=lambda: [2, 4])  # bottom gated convs

    def as_dict(self) -> dict:
        return asdict(self)


class RepairNet(nn.Module):
    def __init__(self, config: RepairConfig) -> None:
        super().__init__()
        self.config = config
        w = config.widths
        # Space-to-depth: the network runs at half resolution with every pixel in its channels
        # (thin scratches stay visible), four times faster on a CPU than full-resolution layers.
        self.stem = nn.Sequential(nn.PixelUnshuffle(2), GatedConv(16, w[0]))
        self.downs = nn.ModuleList(Down(a, b) for a, b in zip(w[:-1], w[1:], strict=True))
        bottom = (GatedConv(w[-1], w[-1], dilation=d) for d in config.dilations)
        self.bottom = nn.Sequential(*bottom)
        self.ups = nn.ModuleList(Up(b, a, a) for a, b in zip(w[-2::-1], w[:0:-1], strict=True))
        self.head = nn.Sequential(nn.Conv2d(w[0], 12, 3, padding=1), nn.PixelShuffle(2))

    @property
    def stride(self) -> int:
        """Sides that are a multiple of this keep every scale's grid aligned with the skips."""
        return 2 ** len(self.config.widths)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """The network's whole image (B, 3, H, W), from images in [0, 1] and masks (B, 1, H, W)
        with 1 where pixels are to be filled; their values under the mask are never looked at."""
        h = self.stem(torch.cat([(x - 0.5) * (1 - mask), mask], dim=1))
        skips = []
        for down in self.downs:
            skips.append(h)
            h = down(h)
        h = self.bottom(h)
        for up in self.ups:
            h = up(h, skips.pop())
        return self.head(h) + 0.5

    def fill(self, x: Tensor, mask: Tensor) -> Tensor:
        """Known pixels exactly as given, the network's output (clamped to [0, 1]) in the holes."""
        return torch.where(mask > 0.5, self(x, mask).clamp(0, 1), x)

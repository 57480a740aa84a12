"""A gated-convolution U-Net that fills holes in photos.

Yu, Lin, Yang, Shen, Lu and Huang, "Free-Form Image Inpainting with Gated Convolution", ICCV 2019:
every convolution computes features and a soft gate from the same input, so the network learns
where a pixel's evidence comes from (known pixels, filled-in ones, or nothing yet) instead of
being told by a hand-made rule as in partial convolutions (Liu et al., ECCV 2018). The U-Net
(Ronneberger et al., MICCAI 2015) works at half resolution (pixels folded into channels) and
halves it `len(widths) - 1` more times; dilated gated
convolutions at the bottom widen the receptive field further, so that the middle of a 64x64 hole
still sees known pixels.

A parameter-free multigrid fill (push-pull, Gortler et al. 1996, with Jacobi relaxation at each
level, then a few biharmonic relaxations) first fills the holes smoothly, as diffusion inpainting
does; the network sees that image
plus the mask (1 = fill) and adds a correction, so training starts from a fill as good as the
classic tools' and spends its steps on texture and edges. `RepairNet.fill` keeps
only the hole pixels of the result: known pixels come back exactly.
"""

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def push_pull(v: Tensor, w: Tensor, sweeps: int = 0) -> Tensor:
    """Fill the holes of an image from its known pixels, coarse to fine: `v` is the image times
    its weights `w` (1 known, 0 hole). Push-pull (Gortler et al., "The Lumigraph", 1996) halves
    the resolution by weighted averaging until no pixel is left without evidence, then blends
    each upsampled coarser level into what is missing; `sweeps` Jacobi relaxations of Laplace's
    equation at every level make it a multigrid solver for the smooth (harmonic) fill that
    diffusion inpainting computes. No parameters."""
    if bool((w > 0).all()) or min(v.shape[-2:]) == 1:
        return v / w.clamp_min(1e-6)
    coarse = push_pull(
        F.avg_pool2d(v, 2, ceil_mode=True), F.avg_pool2d(w, 2, ceil_mode=True), sweeps
    )
    up = F.interpolate(coarse, size=v.shape[-2:], mode="bilinear", align_corners=False)
    y = v + (1 - w) * up
    for _ in range(sweeps):
        p = F.pad(y, (1, 1, 1, 1), mode="replicate")
        neighbours = p[..., :-2, 1:-1] + p[..., 2:, 1:-1] + p[..., 1:-1, :-2] + p[..., 1:-1, 2:]
        y = v + (1 - w) * neighbours / 4
    return y


def smooth_edges(y: Tensor, v: Tensor, w: Tensor, sweeps: int) -> Tensor:
    """`sweeps` damped Jacobi relaxations of the biharmonic equation (the 13-point stencil of
    Laplace's operator applied twice) on the holes of `y`, at full resolution. They carry the
    slope of the known pixels into a hole, not only their values: on thin scratches that is the
    fill of scikit-image's biharmonic inpainting, at a hundredth of its cost. Damping by 1/2 keeps
    the iteration stable (undamped Jacobi diverges on this stencil)."""
    h, w_ = y.shape[-2:]
    for _ in range(sweeps):
        p = F.pad(y, (2, 2, 2, 2), mode="replicate")
        at = [[p[..., 2 + dy : 2 + dy + h, 2 + dx : 2 + dx + w_] for dx in range(-2, 3)]
              for dy in range(-2, 3)]  # at[2 + dy][2 + dx]: the neighbour at (dy, dx)  # fmt: skip
        cross = at[1][2] + at[3][2] + at[2][1] + at[2][3]
        diagonal = at[1][1] + at[1][3] + at[3][1] + at[3][3]
        far = at[0][2] + at[4][2] + at[2][0] + at[2][4]
        target = (8 * cross - 2 * diagonal - far) / 20
        y = v + (1 - w) * (y + 0.5 * (target - y))
    return y


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
    """Double the resolution: project to the skip's width (1x1, at the coarse resolution, where
    it is cheap), upsample (nearest neighbour), add the skip connection, one gated conv. Adding
    instead of concatenating halves the cost of the finest layers, which dominate on a CPU."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.project = nn.Conv2d(c_in, c_out, 1)
        self.conv = GatedConv(c_out, c_out)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = F.interpolate(self.project(x), size=skip.shape[-2:], mode="nearest")
        return self.conv(x + skip)


@dataclass
class RepairConfig:
    widths: list[int] = field(default_factory=lambda: [32, 64, 96, 128])  # channels per scale
    dilations: list[int] = field(default_factory=lambda: [2, 4])  # bottom gated convs
    sweeps: int = 8  # relaxations per level of the smooth fill the network starts from
    edge_sweeps: int = 10  # biharmonic relaxations after it, at full resolution

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
        self.ups = nn.ModuleList(Up(b, a) for a, b in zip(w[-2::-1], w[:0:-1], strict=True))
        self.head = nn.Sequential(nn.Conv2d(w[0], 12, 3, padding=1), nn.PixelShuffle(2))
        # A zero correction at first: an untrained network returns the push-pull fill.
        nn.init.zeros_(self.head[0].weight)
        nn.init.zeros_(self.head[0].bias)

    @property
    def stride(self) -> int:
        """Sides that are a multiple of this keep every scale's grid aligned with the skips."""
        return 2 ** len(self.config.widths)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """The network's whole image (B, 3, H, W), from images in [0, 1] and masks (B, 1, H, W)
        with 1 where pixels are to be filled; their values under the mask are never looked at."""
        coarse = self.smooth_fill(x, mask)
        h = self.stem(torch.cat([coarse - 0.5, mask], dim=1))
        skips = []
        for down in self.downs:
            skips.append(h)
            h = down(h)
        h = self.bottom(h)
        for up in self.ups:
            h = up(h, skips.pop())
        return coarse + self.head(h)

    @torch.no_grad()  # no parameters: nothing to learn through it
    def smooth_fill(self, x: Tensor, mask: Tensor) -> Tensor:
        """The parameter-free starting point the network corrects: the holes filled smoothly
        from the known pixels."""
        known = 1 - mask
        coarse = push_pull(x * known, known, self.config.sweeps)
        return smooth_edges(coarse, x * known, known, self.config.edge_sweeps)

    def fill(self, x: Tensor, mask: Tensor) -> Tensor:
        """Known pixels exactly as given, the network's output (clamped to [0, 1]) in the holes."""
        return torch.where(mask > 0.5, self(x, mask).clamp(0, 1), x)

"""Encoder effort: the latent of one image optimised against the fixed decoder.

The analysis transform gives a y that is good on average over the training images; for the
image at hand, gradient steps on y itself lower rate + lambda * distortion further, and the
decoder never knows (Campos, Meierhans, Djelouah and Schroers, "Content Adaptive Optimization
for Neural Image Compression", CVPR workshops 2019). The rounding the decoder will apply has no
gradient; it is replaced by a soft rounding between the two nearest integers whose temperature
falls toward hard rounding, the relaxation of Yang, Bamler and Mandt ("Improving Inference for
Neural Image Compression", NeurIPS 2020). Over tens of steps the soft rounding is deterministic;
from STOCHASTIC_STEPS on it is their stochastic version (SGA: Gumbel noise on the choice between
the two integers), which explores where the deterministic one drifts. On kodim23 at quality 50,
rate + lambda * distortion of the real file fell by 3.4 % with 96 deterministic steps and by
3.8, 5.0 and 5.4-5.9 % with 64, 120 and 250 stochastic ones; over 15 steps the noise costs more
than it explores (1.2 % against 3-5 %). The synthesis runs in bfloat16 for these steps where the
CPU has bfloat16 instructions, three times as fast as float32; the file is then coded and judged
in full precision.

`refine` takes and returns y before the quality's gains, so that its result goes to
`Hyperprior.compress(y, quality)` like the analysis output; RDOQ then chooses each symbol as for
any y. `compress` codes both and keeps the one with the lower rate + lambda * distortion, so
that effort never costs quality: the annealing optimises a proxy, the choice the real thing.
"""

import functools
import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from aecodec.latent.hyperprior import CodedLatent
from aecodec.models.hyperprior import MARGIN_LATENT, SYNTHESIS_TILE, Hyperprior
from aecodec.nn.tiling import Window, windows

STEPS = (0, 4, 8, 12, 16, 24, 64, 100, 160, 240)  # per effort 0..9
STOCHASTIC_STEPS = 64  # from this many steps on, the soft rounding is stochastic (SGA)
EPSILON = 1e-5


class Annealing(NamedTuple):
    """The temperature falls geometrically from tau_start to tau_end, and Adam's step along a
    half cosine to zero from learning_rate (in quantisation steps: the gains put every
    quality's y on a grid of 1)."""

    tau_start: float
    tau_end: float
    learning_rate: float
    noise: bool  # Gumbel noise on the soft rounding (SGA)


def annealing(steps: int) -> Annealing:
    """The schedule of a refinement of `steps` steps. Without noise the step is at most 0.25 /
    steps: past about 0.15 of a step in all, the deterministic relaxation leads y away from what
    rounding will code (kodim01 and kodim23, 8 to 96 steps); with noise 0.006 (kodim23 at 250
    steps: 0.003 to 0.008 and a final temperature of 0.1 to 0.2 all within 0.6 % of the rate)."""
    if steps >= STOCHASTIC_STEPS:
        return Annealing(0.5, 0.15, 0.006, True)
    return Annealing(0.6, 0.2, min(0.012, 0.25 / max(steps, 1)), False)


# A large latent is refined tile by tile (nn.tiling.windows), each tile of REFINE_TILE samples
# with REFINE_MARGIN samples of its neighbours (64 pixels, beyond the synthesis's reach) refined
# with it and then dropped, so that memory stays that of a 0.6-megapixel image whatever the
# photo's size; a latent of up to 2880 samples (0.74 megapixels: Kodak's) is refined whole. Both
# are multiples of 4, the hyper-latent's stride over y.
REFINE_TILE, REFINE_MARGIN = 40, 4


def compress(net: Hyperprior, x: Tensor, y: Tensor, quality: float, steps: int) -> CodedLatent:
    """`net.compress(y, quality)`, or of y refined by `steps` gradient steps where that gives the
    lower rate + lambda * distortion (x as for `refine`)."""
    coded = net.compress(y, quality)
    if steps <= 0:
        return coded
    refined = net.compress(refine(net, x, y, quality, steps), quality)
    return min(coded, refined, key=lambda c: rd_cost(net, x, c, quality))


@torch.no_grad()
def rd_cost(net: Hyperprior, x: Tensor, coded: CodedLatent, quality: float) -> float:
    """Bits per pixel of the coded strings + lambda * 255^2 * MSE of the 8-bit picture they
    decode to (the training loss, with the real file's bits and pixels)."""
    _, inverse_gain = net.gains(quality)
    pixels = x.shape[2] * x.shape[3]
    bits = 8 * sum(len(s) for s in coded.strings)
    y_hat, squared = coded.y_hat * inverse_gain, 0.0
    # tile by tile, as the decoder would: a 24 MP picture's float copies take 290 MB each
    for window in windows(*y_hat.shape[2:], SYNTHESIS_TILE, MARGIN_LATENT):
        part = net.g_s(y_hat[:, :, window.rows, window.cols])
        rows, cols = (_scaled(run, net.y_stride) for run in (window.tile_rows, window.tile_cols))
        target = x[:, :, *(_scaled(run, net.y_stride) for run in _tile_in(window))]
        decoded = torch.round(_crop(part[:, :, rows, cols], target).clamp(0, 1) * 255) / 255
        squared += float((decoded - target).square().sum())
    mse = squared / x.numel()
    return bits / pixels + net.rd_lambda(quality) * 255**2 * mse


def refine(net: Hyperprior, x: Tensor, y: Tensor, quality: float, steps: int) -> Tensor:
    """y (1, M, h, w), the analysis of the image x (1, 3, H, W) in [0, 1] (y covers x padded
    to the model's stride), after `steps` gradient steps at `quality` (`annealing`), tile by
    tile on large images (REFINE_TILE). The same inputs always give the same result: the noise
    of the stochastic steps comes from a fixed seed."""
    if steps <= 0:
        return y
    out = torch.empty_like(y)
    for window in windows(*y.shape[2:], REFINE_TILE, REFINE_MARGIN):
        pixels = x[:, :, _scaled(window.rows, net.y_stride), _scaled(window.cols, net.y_stride)]
        part = _refine(net, pixels, y[:, :, window.rows, window.cols], quality, steps)
        out[:, :, *_tile_in(window)] = part[:, :, window.tile_rows, window.tile_cols]
    return out


def _tile_in(window: Window) -> tuple[slice, slice]:
    """A window's tile, in samples of the whole."""
    return _shift(window.tile_rows, window.rows.start), _shift(window.tile_cols, window.cols.start)


def _shift(run: slice, offset: int) -> slice:
    return slice(run.start + offset, run.stop + offset)


def _scaled(run: slice, factor: int) -> slice:
    return slice(run.start * factor, run.stop * factor)


def _refine(net: Hyperprior, x: Tensor, y: Tensor, quality: float, steps: int) -> Tensor:
    """refine() of one tile (or of a whole small image)."""
    schedule = annealing(steps)
    noise = torch.Generator().manual_seed(0) if schedule.noise else None
    gain, inverse_gain = net.gains(quality)
    lam = net.rd_lambda(quality) * 255**2
    pixels = x.shape[2] * x.shape[3]
    latent = (y * gain).detach().clone().requires_grad_(True)
    optimiser = torch.optim.Adam([latent], lr=schedule.learning_rate)
    frozen = [p.requires_grad_(False) for p in net.parameters() if p.requires_grad]
    try:
        for step in range(steps):
            progress = step / max(steps - 1, 1)
            tau = schedule.tau_start * (schedule.tau_end / schedule.tau_start) ** progress
            step_size = schedule.learning_rate * (1 + math.cos(math.pi * progress)) / 2
            optimiser.param_groups[0]["lr"] = step_size
            bits, x_hat = _rate_and_picture(net, latent, inverse_gain, tau, noise)
            loss = bits / pixels + lam * F.mse_loss(_crop(x_hat, x), x)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return (latent.detach() / gain).contiguous()


def _rate_and_picture(
    net: Hyperprior,
    y: Tensor,
    inverse_gain: Tensor,
    tau: float,
    noise: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Bits of y and of its hyper-latent, and the decoded picture (computed in bfloat16 where
    the CPU has it), with y's rounding softened (with Gumbel noise drawn from `noise`, if
    given). The hyper-latent and the context see y rounded as the decoder will (straight
    through)."""
    _, z_hat, scales, means = net.entropy_parameters(y)
    y_soft = _soft_round(y - means, tau, noise) + means
    # z's rounding error is straight through: its rate is a small part of the file
    bits = -torch.log2(net.gaussian.likelihood(y_soft, scales, means)).sum()
    bits = bits - torch.log2(net.entropy_bottleneck.likelihood(z_hat)).sum()
    # channels-last: oneDNN's bfloat16 convolutions take a third less time in that layout;
    # float32 where the CPU has no bfloat16 instructions (emulated, they would be slower)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=_has_bfloat16()):
        x_hat = net.g_s((y_soft * inverse_gain).contiguous(memory_format=torch.channels_last))
    return bits, x_hat.float()


@functools.cache
def _has_bfloat16() -> bool:
    """Whether oneDNN runs bfloat16 on this CPU's own instructions."""
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def _crop(x_hat: Tensor, x: Tensor) -> Tensor:
    """The decoded picture without the padding the analysis added."""
    return x_hat[:, :, : x.shape[2], : x.shape[3]]


def _soft_round(v: Tensor, tau: float, noise: torch.Generator | None = None) -> Tensor:
    """floor(v) and ceil(v) mixed by a softmax of temperature tau over their distances: v's
    nearer integer dominates, and as tau falls the mix becomes hard rounding. With `noise`,
    Gumbel noise is added to the two logits (Yang et al.'s SGA), so that the mix leans at
    random toward either integer, the more so the warmer it is."""
    floor = torch.floor(v).detach()
    up = v - floor  # distance to floor, in [0, 1)
    distances = torch.stack([up, 1 - up])
    logits = -torch.atanh(distances.clamp(EPSILON - 1, 1 - EPSILON)) / tau
    if noise is not None:
        uniform = torch.rand(logits.shape, generator=noise).clamp_(1e-10, 1 - 1e-10)
        logits = logits - torch.log(-torch.log(uniform))
    return floor + torch.softmax(logits, dim=0)[1]  # weights[0] * floor + weights[1] * ceil


def steps_for(effort: int) -> int:
    """Refinement steps of an effort level 0..9: none at 0 (the plain encoder)."""
    if not 0 <= effort < len(STEPS):
        raise ValueError(f"effort must be between 0 and {len(STEPS) - 1}, not {effort}")
    return STEPS[effort]

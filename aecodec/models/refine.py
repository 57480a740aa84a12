"""Encoder effort: the latent of one image optimised against the fixed decoder.

The analysis transform gives a y that is good on average over the training images; for the
image at hand, gradient steps on y itself lower rate + lambda * distortion further, and the
decoder never knows (Campos, Meierhans, Djelouah and Schroers, "Content Adaptive Optimization
for Neural Image Compression", CVPR workshops 2019). The rounding the decoder will apply has no
gradient; stochastic Gumbel annealing (Yang, Bamler and Mandt, "Improving Inference for Neural
Image Compression", NeurIPS 2020) replaces it by a random soft choice between the two nearest
integers, annealed toward hard rounding, so that what is optimised is what will be coded.

`refine` takes and returns y before the quality's gains, so that its result goes to
`Hyperprior.compress(y, quality)` like the analysis output; RDOQ then chooses each symbol as for
any y. `compress` codes both and keeps the one with the lower rate + lambda * distortion, so
that effort never costs quality: the annealing optimises a proxy, the choice the real thing.
"""

import torch
import torch.nn.functional as F
from torch import Tensor

from aecodec.latent.hyperprior import CodedLatent
from aecodec.models.hyperprior import Hyperprior

# SGA's temperature falls from TAU_START to TAU_END (Yang et al. start at 0.5 for thousands of
# steps; for tens, 0.2 gains twice as much on kodim23), with Adam at LEARNING_RATE (in
# quantisation steps: the gains put every quality's y on a grid of 1).
TAU_START, TAU_END = 0.2, 0.05
LEARNING_RATE = 0.005
STEPS = (0, 5, 10, 15, 20, 25, 30, 35, 40, 50)  # per effort 0..9: below 5, nothing gained
EPSILON = 1e-5


def compress(net: Hyperprior, x: Tensor, y: Tensor, quality: float, steps: int) -> CodedLatent:
    """`net.compress(y, quality)`, or of y refined by `steps` SGA steps where that gives the
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
    decoded = torch.round(net.g_s(coded.y_hat * inverse_gain).clamp(0, 1) * 255) / 255
    mse = F.mse_loss(_crop(decoded, x), x)
    return bits / pixels + net.rd_lambda(quality) * 255**2 * float(mse)


def refine(
    net: Hyperprior,
    x: Tensor,
    y: Tensor,
    quality: float,
    steps: int,
    learning_rate: float = LEARNING_RATE,
    tau_start: float = TAU_START,
    seed: int = 0,
) -> Tensor:
    """y (1, M, h, w), the analysis of the image x (1, 3, H, W) in [0, 1] (padded to the model's
    stride), after `steps` SGA steps at `quality`. The same inputs always give the same result."""
    if steps <= 0:
        return y
    gain, inverse_gain = net.gains(quality)
    lam = net.rd_lambda(quality) * 255**2
    pixels = x.shape[2] * x.shape[3]
    generator = torch.Generator().manual_seed(seed)
    latent = (y * gain).detach().clone().requires_grad_(True)
    optimiser = torch.optim.Adam([latent], lr=learning_rate)
    frozen = [p.requires_grad_(False) for p in net.parameters() if p.requires_grad]
    try:
        for step in range(steps):
            tau = tau_start * (TAU_END / tau_start) ** (step / max(steps - 1, 1))
            bits, x_hat = _rate_and_picture(net, latent, inverse_gain, tau, generator)
            loss = bits / pixels + lam * F.mse_loss(_crop(x_hat, x), x)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return (latent.detach() / gain).contiguous()


def _rate_and_picture(
    net: Hyperprior, y: Tensor, inverse_gain: Tensor, tau: float, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Bits of y and of its hyper-latent, and the decoded picture, with y's rounding annealed.
    The hyper-latent and the context see y rounded as the decoder will (straight through)."""
    _, z_hat, scales, means = net.entropy_parameters(y)
    offsets = y - means
    y_soft = _annealed_round(offsets, tau, generator) + means
    # z's rounding error is straight through: its rate is a small part of the file
    bits = -torch.log2(net.gaussian.likelihood(y_soft, scales, means)).sum()
    bits = bits - torch.log2(net.entropy_bottleneck.likelihood(z_hat)).sum()
    return bits, net.g_s(y_soft * inverse_gain)


def _crop(x_hat: Tensor, x: Tensor) -> Tensor:
    """The decoded picture without the padding the analysis added."""
    return x_hat[:, :, : x.shape[2], : x.shape[3]]


def _annealed_round(v: Tensor, tau: float, generator: torch.Generator) -> Tensor:
    """SGA: floor(v) or ceil(v), the nearer the likelier, mixed by a Gumbel-softmax sample of
    temperature tau; as tau falls the mix becomes hard rounding."""
    floor = torch.floor(v).detach()
    up = v - floor  # distance to floor, in [0, 1)
    distances = torch.stack([up, 1 - up])
    logits = -torch.atanh(distances.clamp(EPSILON - 1, 1 - EPSILON)) / tau
    uniform = torch.rand(distances.shape, generator=generator).clamp(EPSILON, 1 - EPSILON)
    gumbel = -torch.log(-torch.log(uniform))
    weights = torch.softmax((logits + gumbel) / tau, dim=0)
    return floor + weights[1]  # weights[0] * floor + weights[1] * (floor + 1)


def steps_for(effort: int) -> int:
    """SGA steps of an effort level 0..9: none at 0 (the plain encoder)."""
    if not 0 <= effort < len(STEPS):
        raise ValueError(f"effort must be between 0 and {len(STEPS) - 1}, not {effort}")
    return STEPS[effort]

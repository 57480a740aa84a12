"""Rate-distortion optimised quantisation of y: an encoder choice, the decoder is unchanged.

Rounding y - mu to the nearest integer minimises the latent error, not rate + lambda * distortion,
the loss the model was trained for. Where the residual is near a half and the table makes the
smaller magnitude much cheaper (a narrow Gaussian: zero costs a fraction of a bit, one costs
several), a step toward zero saves more bits than the error it adds is worth. So each symbol
moves one step toward zero when

    bits(q - sign(q)) - bits(q) + tau * ((q - sign(q) - v)^2 - (q - v)^2) < 0,

v = y - mu, q = round(v), and tau = KAPPA * lambda * 255^2 / 3 * w converts squared latent error
into the training loss's units: w is the squared pixel error (0..1, summed over the three
colours) that one unit of latent error causes through the synthesis, measured on the image itself
with a random probe. The decision is greedy in coding order; later groups' tables are computed
from the symbols chosen, at both ends, so the file stays exactly decodable.

The squared latent error understates what a step costs in pixels (the synthesis learnt to
decode rounded latents, so a moved symbol is not simply a nearby y), hence KAPPA, set with
`bench/rdoq.py` on BSDS500 test images (8 images, qualities 0-100; never Kodak). At 8: +0.05 dB
at equal rate at qualities 10-50, less above, nothing at 100, BD-rate -1.03 %; 5 as good
(-1.07 %), 3 and 16 two thirds of it (-0.59 and -0.69 %).
"""

import torch
from torch import Tensor, nn

from aecodec.entropy.tables import Tables, symbol_bits

KAPPA = 8.0
PROBE = 8  # latent samples per side of the crop the synthesis is probed on (128x128 pixels)
ESCAPE_BITS = 32.0  # about what an escaped value costs beyond its escape symbol: never worth it


def tradeoff(g_s: nn.Module, y: Tensor, inverse_gain: Tensor, lam: float) -> float:
    """tau for the gained latent y (1, M, h, w) of one image at trade-off `lam`."""
    h, w = y.shape[2:]
    top, left = max(0, (h - PROBE) // 2), max(0, (w - PROBE) // 2)
    crop = torch.round(y[:, :, top : top + PROBE, left : left + PROBE])
    generator = torch.Generator().manual_seed(0)  # the same image always gives the same file
    step = torch.randint(0, 2, crop.shape, generator=generator).float() - 0.5  # +-1/2
    with torch.no_grad():
        out = g_s(torch.cat([crop, crop + step]) * inverse_gain)
    sensitivity = float((out[1] - out[0]).square().sum()) / (step.numel() / 4)
    return KAPPA * lam * 255**2 / 3 * sensitivity


def toward_zero(v: Tensor, indexes: Tensor, tables: Tables, tau: float) -> Tensor:
    """The symbols for residuals v = y - mu coded with table rows `indexes`: round(v), each moved
    one step toward zero where that lowers bits + tau * squared error."""
    q = torch.round(v)
    step = q - torch.sign(q)
    saved = symbol_costs(q, indexes, tables) - symbol_costs(step, indexes, tables)
    added = tau * ((step - v).square() - (q - v).square())
    return torch.where((q != 0) & (added < saved), step, q)


def symbol_costs(q: Tensor, indexes: Tensor, tables: Tables) -> Tensor:
    """Bits of each symbol q coded with table rows `indexes`, an escape priced at ESCAPE_BITS."""
    return symbol_bits(tables, q, indexes, ESCAPE_BITS).to(q.dtype)

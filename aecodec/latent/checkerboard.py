"""Checkerboard context model (He, Zheng, Sun, Wang, Qin, "Checkerboard Context Model for
Efficient Learned Image Compression", CVPR 2021).

The latent y is split like a checkerboard: the anchors ((row + column) even) are coded first
with the hyperprior's parameters alone; then a convolution over the decoded anchors gives every
other position a context from its four to twelve nearest anchors, and both halves are decoded in
parallel, two passes in all (Minnen et al.'s serial context needs one pass per position).

Parameters are residual: the entropy-parameter network adds a correction to the hyperprior's
(scales, means), and its last layer starts at zero, so a trained hyperprior starts unchanged.
The coding face works in fixed point (entropy.integer): anchors enter the context as
q * 2**FA + mean, integers, so encoder and decoder derive the same tables bit for bit.
"""

import torch
from torch import Tensor, nn

from aecodec.entropy.integer import ExactNet, gaussian_parameters, to_fixed
from aecodec.entropy.numerics import ACT_MAX, POSITIONS
from aecodec.latent.groups import GroupCoder


def anchors(h: int, w: int, device: torch.device | None = None) -> Tensor:
    """(h, w) bool: True where (row + column) is even, the positions coded first."""
    rows, cols = torch.arange(h, device=device), torch.arange(w, device=device)
    return (rows[:, None] + cols[None, :]) % 2 == 0


class AnchorConv(nn.Conv2d):
    """A convolution that only reads anchors when centred on a non-anchor: the taps at an even
    offset (the centre included) are masked out, so they are neither trained nor coded."""

    def __init__(self, channels: int, kernel: int = 5) -> None:
        super().__init__(channels, channels, kernel, padding=kernel // 2)
        r = kernel // 2
        offsets = torch.arange(kernel) - r
        odd = (offsets[:, None] + offsets[None, :]) % 2 == 1
        self.register_buffer("mask", odd.float()[None, None], persistent=False)

    def masked_weight(self) -> Tensor:
        return self.weight * self.mask

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, self.masked_weight(), self.bias)


class CheckerboardContext(nn.Module):
    # y's stream of each half: one each, as the first files with this context were written
    streams = (0, 1)

    def __init__(self, M: int) -> None:
        super().__init__()
        self.context = AnchorConv(M)
        self.entropy_parameters = nn.Sequential(
            nn.Conv2d(3 * M, 2 * M, 1), nn.ReLU(), nn.Conv2d(2 * M, 2 * M, 1), nn.ReLU(),
            nn.Conv2d(2 * M, 2 * M, 1),
        )  # fmt: skip
        nn.init.zeros_(self.entropy_parameters[-1].weight)
        nn.init.zeros_(self.entropy_parameters[-1].bias)
        self.context_exact = ExactNet(self.context)
        self.parameters_exact = ExactNet(self.entropy_parameters)

    # -- training face ---------------------------------------------------------------------

    def forward(self, hyper: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Float (scales, means) for y, given the hyperprior's; anchors enter the context as the
        decoder will see them, round(y - mu) + mu, with a straight-through gradient."""
        is_anchor = anchors(*y.shape[2:], device=y.device)
        zeros = torch.zeros_like(y)
        first = hyper + self.entropy_parameters(torch.cat([hyper, zeros], dim=1))
        first, decoded = self._train_half(first, 0, y, zeros, is_anchor)
        context = self.context(decoded)
        second = hyper + self.entropy_parameters(torch.cat([hyper, context], dim=1))
        second, _ = self._train_half(second, 1, y, decoded, ~is_anchor)
        return torch.where(is_anchor, first, second).chunk(2, dim=1)

    def _train_half(
        self, params: Tensor, half: int, y: Tensor, decoded: Tensor, here: Tensor
    ) -> tuple[Tensor, Tensor]:
        """The parameters (B, 2M, h, w) of half 0 (anchors) or 1, and `decoded` with that half
        filled in where `here`. The checkerboard adds nothing within a half; subclasses may."""
        means = params.chunk(2, dim=1)[1]
        return params, torch.where(here, rounded(y, means), decoded)

    # -- coding face -----------------------------------------------------------------------

    @torch.no_grad()
    def freeze(self) -> None:
        self.context_exact.freeze(self.context)
        self.parameters_exact.freeze(self.entropy_parameters)
        if any(tap != (0, 0) for taps in self.parameters_exact.taps.values() for tap in taps):
            raise ValueError("_refine needs entropy parameters of 1x1 convolutions")

    @torch.no_grad()
    def code(self, hyper: Tensor, code_group: GroupCoder) -> Tensor:
        """Walk the two halves of y in coding order, each group through `code_group` (the
        encoder's or the decoder's), and return y_hat (1, M, h, w), given the exact
        hyper-synthesis's fixed-point output (1, 2M, h, w).

        The fixed-point tensors (the hyperprior's and refined parameters, y_hat and its fixed
        point) are held in float32, which holds their integers (below 2**21 in size) exactly:
        half the memory of float64 on a large image; arithmetic on them is float64. The
        hyperprior's parameters live here only, each half dropped once refined."""
        _, channels, h, w = hyper.shape
        is_anchor = anchors(h, w).flatten()
        first, second = is_anchor.nonzero().flatten(), (~is_anchor).nonzero().flatten()
        hyper = hyper[0].reshape(channels, h * w)
        hyper_first, hyper_second = hyper[:, first], hyper[:, second]
        del hyper
        y_hat = torch.zeros(channels // 2, h * w)
        decoded = torch.zeros(1, channels // 2, h, w)  # y_hat in fixed point
        params = self._refine(hyper_first, None)
        del hyper_first
        self._code_half(params, 0, first, y_hat, decoded, code_group)
        del params
        context = self.context_exact(decoded, second)[0, :, :, 0]
        params = self._refine(hyper_second, context)
        del hyper_second, context
        self._code_half(params, 1, second, y_hat, decoded, code_group)
        return y_hat.reshape(1, -1, h, w)

    def _code_half(self, params, half, positions, y_hat, decoded, code_group) -> None:
        """Code half 0 (anchors) or 1 with its fixed-point parameters (2M, n), writing y_hat
        (float32 of the exact float64 sum) and its fixed point at its positions."""
        means, scales = self._split(params)
        q = code_group(means, scales, positions, stream=self.streams[half])
        exact = q.double() + means.double()
        y_hat[:, positions] = exact.float()
        decoded.view(1, len(y_hat), -1)[0, :, positions] = to_fixed(exact).float()

    def _split(self, params: Tensor) -> tuple[Tensor, Tensor]:
        """Fixed-point (2c, n) parameters -> (c, n) means and fixed-point scales."""
        means, scales = gaussian_parameters(params.double()[None, :, :, None])
        return means[0, :, :, 0], scales[0, :, :, 0]

    def _refine(self, hyper: Tensor, context: Tensor | None) -> Tensor:
        """Fixed-point (2M, n) parameters: the hyperprior's plus the exact correction, given the
        context (None: zeros, the anchors'). A few thousand positions at a time: the network is
        1x1 convolutions (checked in freeze), so each position is its own, and a 24 MP image's
        features and activations at once would take gigabytes."""
        out, n = torch.empty(hyper.shape), hyper.shape[1]  # float32: integers below 2**21
        for start in range(0, n, POSITIONS):
            stop = min(start + POSITIONS, n)
            part = hyper[:, start:stop].double()
            if context is None:
                known = part.new_zeros(len(part) // 2, stop - start)
            else:
                known = context[:, start:stop]
            features = torch.cat([part, known])[None, :, :, None]
            correction = self.parameters_exact(features)[0, :, :, 0]
            out[:, start:stop] = correction.add_(part).clamp_(-ACT_MAX, ACT_MAX)
        return out


def rounded(y: Tensor, means: Tensor) -> Tensor:
    """round(y - mu) + mu, what the decoder will see, with a straight-through gradient."""
    return y + (torch.round(y - means) + means - y).detach()

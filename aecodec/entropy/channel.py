"""Space-channel context: the checkerboard context plus a context across channel groups.

- He, Zhu, Sun, Wang, Qin, Zhou, "ELIC: Efficient Learned Image Compression with Unevenly
  Grouped Space-Channel Contextual Adaptive Coding", CVPR 2022: y is cut into uneven channel
  groups (1/12, 1/12, 1/6, 1/3, 1/3 of M); each group is coded with a context from the groups
  before it as well as the checkerboard's spatial one.
- Minnen, Singh, "Channel-wise autoregressive entropy models for learned image compression",
  ICIP 2020: conditioning on earlier channel slices.

Here it is built on a trained checkerboard model, whose parameters it corrects, so a model with
a trained checkerboard context starts unchanged (each correction's last layer starts at zero).
Coding order: the anchors of every group, group by group, each with a context from the anchors
of the groups before it; then the checkerboard context over all anchors; then the other half,
group by group, each with a context from everything of the groups before it. Ten passes of
small networks; all in fixed point on the coding face (entropy.integer), like the checkerboard.

Channels enter the groups in `order`, a permutation set once from data before training (most
bits first), since the groups only help if the channels coded first carry the most.
"""

from collections.abc import Callable

import torch
from torch import Tensor, nn

from aecodec.entropy.checkerboard import CheckerboardContext, anchors
from aecodec.entropy.integer import ACT_MAX, FA, ExactNet, to_fixed

GROUP_TWELFTHS = (1, 1, 2, 4, 4)  # ELIC's uneven groups, as twelfths of M


def group_bounds(M: int) -> list[tuple[int, int]]:
    """(start, end) channel positions of each group, in coding order."""
    if M % 12:
        raise ValueError(f"a space-channel context needs M divisible by 12, got {M}")
    ends = (torch.tensor(GROUP_TWELFTHS).cumsum(0) * (M // 12)).tolist()
    return list(zip([0, *ends[:-1]], ends, strict=True))


class ChannelNet(nn.Module):
    """Correction to one group's (scales, means) from the groups decoded before it: features of
    their 3x3 neighbourhood, mixed with the group's current parameters."""

    def __init__(self, known: int, channels: int, width: int = 64, hidden: int = 128) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(known, width, 3, padding=1), nn.ReLU())
        self.aggregate = nn.Sequential(
            nn.Conv2d(width + 2 * channels, hidden, 1), nn.ReLU(),
            nn.Conv2d(hidden, 2 * channels, 1),
        )  # fmt: skip
        nn.init.zeros_(self.aggregate[-1].weight)
        nn.init.zeros_(self.aggregate[-1].bias)
        self.features_exact = ExactNet(self.features)
        self.aggregate_exact = ExactNet(self.aggregate)

    def forward(self, known: Tensor, params: Tensor) -> Tensor:
        return self.aggregate(torch.cat([self.features(known), params], dim=1))

    @torch.no_grad()
    def freeze(self) -> None:
        self.features_exact.freeze(self.features)
        self.aggregate_exact.freeze(self.aggregate)

    def exact(self, known: Tensor, positions: Tensor, params: Tensor) -> Tensor:
        """Fixed point: known (1, k, h, w), params (2c, n) at the n positions -> (2c, n)."""
        features = self.features_exact(known, positions)
        correction = self.aggregate_exact(torch.cat([features, params[None, :, :, None]], dim=1))
        return correction[0, :, :, 0]


class SpaceChannelContext(CheckerboardContext):
    def __init__(self, M: int) -> None:
        super().__init__(M)
        self.bounds = group_bounds(M)
        self.register_buffer("order", torch.arange(M))  # saved: channel coding order
        later = self.bounds[1:]
        self.anchor_nets = nn.ModuleList(ChannelNet(a, b - a) for a, b in later)
        self.other_nets = nn.ModuleList(ChannelNet(a, b - a) for a, b in later)

    def set_order(self, bits_per_channel: Tensor) -> None:
        """Code the channels with the most bits first (before training: the nets depend on it)."""
        self.order.copy_(torch.argsort(bits_per_channel, descending=True, stable=True))

    # -- training face ---------------------------------------------------------------------

    def forward(self, hyper: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Float (scales, means) for y; decoded values enter every context as the decoder
        will see them, round(y - mu) + mu, with a straight-through gradient."""
        is_anchor = anchors(*y.shape[2:], device=y.device)
        inverse = torch.argsort(self.order)
        y = y[:, self.order]
        zeros = torch.zeros_like(y)
        first = hyper + self.entropy_parameters(torch.cat([hyper, zeros], dim=1))
        first, decoded = self._groups(first, self.anchor_nets, y, zeros, is_anchor)
        context = self.context(decoded[:, inverse])
        second = hyper + self.entropy_parameters(torch.cat([hyper, context], dim=1))
        second, _ = self._groups(second, self.other_nets, y, decoded, ~is_anchor)
        params = torch.where(is_anchor, first, second)
        scales, means = params.chunk(2, dim=1)
        return scales[:, inverse], means[:, inverse]

    def _groups(self, params, nets, y, decoded, here) -> tuple[Tensor, Tensor]:
        """(B, 2M, h, w) parameters in coding order, each group's corrected from the groups
        before it, and `decoded` with every group filled in at `here` (the half coded now)."""
        order, M = self.order, len(self.order)
        scales, means = params[:, order], params[:, M + order]
        out_scales, out_means = [], []
        for k, (a, b) in enumerate(self.bounds):
            group = torch.cat([scales[:, a:b], means[:, a:b]], dim=1)
            if k:
                group = group + nets[k - 1](decoded[:, :a], group)
            s, m = group.chunk(2, dim=1)
            out_scales.append(s)
            out_means.append(m)
            decoded = torch.cat(
                [decoded[:, :a], torch.where(here, _rounded(y[:, a:b], m), decoded[:, a:b]),
                 decoded[:, b:]], dim=1,
            )  # fmt: skip
        return torch.cat(out_scales + out_means, dim=1), decoded

    # -- coding face -----------------------------------------------------------------------

    @torch.no_grad()
    def freeze(self) -> None:
        super().freeze()
        for net in [*self.anchor_nets, *self.other_nets]:
            net.freeze()

    @torch.no_grad()
    def code(self, hyper: Tensor, code_group: Callable[..., Tensor]) -> Tensor:
        """Walk the groups and halves of y in coding order and return y_hat (1, M, h, w).

        `code_group(means, indexes, positions, channels)` gets (c, n) means and table indices,
        the n flat positions and the c channels, and returns the (c, n) integer symbols."""
        _, channels, h, w = hyper.shape
        M = channels // 2
        hyper = hyper[0].reshape(channels, h * w)
        is_anchor = anchors(h, w).flatten()
        first, second = is_anchor.nonzero().flatten(), (~is_anchor).nonzero().flatten()
        decoded = torch.zeros(1, M, h * w, dtype=torch.float64)  # fixed point, coding order
        no_context = torch.zeros(M, len(first), dtype=torch.float64)
        params = self._refine(hyper[:, first], no_context)
        self._code_groups(params, first, self.anchor_nets, decoded, (h, w), code_group)
        inverse = torch.argsort(self.order)
        spatial = self.context_exact(decoded[:, inverse].reshape(1, M, h, w), second)[0, :, :, 0]
        params = self._refine(hyper[:, second], spatial)
        self._code_groups(params, second, self.other_nets, decoded, (h, w), code_group)
        return (decoded[:, inverse] * 2.0**-FA).float().reshape(1, M, h, w)

    def _code_groups(self, params, positions, nets, decoded, shape, code_group) -> None:
        """Code one half group by group, writing each group's fixed-point y_hat into `decoded`."""
        order, M = self.order, len(self.order)
        scales, means = params[order], params[M + order]
        for k, (a, b) in enumerate(self.bounds):
            group = torch.cat([scales[a:b], means[a:b]])
            if k:
                known = decoded[:, :a].reshape(1, a, *shape)
                correction = nets[k - 1].exact(known, positions, group)
                group = (group + correction).clamp(-ACT_MAX, ACT_MAX)
            m, indexes = self.split(group[None, :, :, None])
            m, indexes = m[0, :, :, 0], indexes[0, :, :, 0]
            q = code_group(m, indexes, positions, order[a:b])
            decoded[0, a:b, positions] = to_fixed(q.double() + m.double())


def _rounded(y: Tensor, means: Tensor) -> Tensor:
    return y + (torch.round(y - means) + means - y).detach()

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

import torch
from torch import Tensor, nn

from aecodec.entropy.integer import ExactNet, to_fixed
from aecodec.entropy.numerics import ACT_MAX, POSITIONS, group_bounds
from aecodec.latent.checkerboard import CheckerboardContext, rounded


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
        """Fixed point: known (1, k, h, w), params (2c, n) at the n positions -> (2c, n). A few
        thousand positions at a time (each output reads its own 3x3 neighbourhood and
        parameters only): the features of a whole half of a large image would take GBs."""
        out = torch.empty(params.shape, dtype=torch.float64)
        for start in range(0, len(positions), POSITIONS):
            part = slice(start, start + POSITIONS)
            features = self.features_exact(known, positions[part])
            both = torch.cat([features, params[None, :, part, None].double()], dim=1)
            out[:, part] = self.aggregate_exact(both)[0, :, :, 0]
        return out


class SpaceChannelContext(CheckerboardContext):
    streams = (0, 0)  # all ten groups in one stream of y

    def __init__(self, M: int) -> None:
        super().__init__(M)
        self.bounds = group_bounds(M)
        self.register_buffer("order", torch.arange(M))  # saved: channel coding order
        later = self.bounds[1:]
        self.anchor_nets = nn.ModuleList(ChannelNet(a, b - a) for a, b in later)
        self.other_nets = nn.ModuleList(ChannelNet(a, b - a) for a, b in later)
        self.nets = (self.anchor_nets, self.other_nets)  # per half: 0 anchors, 1 the others

    def set_order(self, bits_per_channel: Tensor) -> None:
        """Code the channels with the most bits first (before training: the nets depend on it)."""
        self.order.copy_(torch.argsort(bits_per_channel, descending=True, stable=True))

    # -- training face ---------------------------------------------------------------------

    def _train_half(
        self, params: Tensor, half: int, y: Tensor, decoded: Tensor, here: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Each group's parameters corrected from the groups decoded before it, decoding each
        group at `here` before the next one looks at it."""
        nets, order, M = self.nets[half], self.order, len(self.order)
        scales, means = [], []
        for k, (a, b) in enumerate(self.bounds):
            channels = order[a:b]
            group = torch.cat([params[:, channels], params[:, M + channels]], dim=1)
            if k:
                group = group + nets[k - 1](decoded[:, order[:a]], group)
            s, m = group.chunk(2, dim=1)
            scales.append(s)
            means.append(m)
            fill = torch.where(here, rounded(y[:, channels], m), decoded[:, channels])
            decoded = decoded.index_copy(1, channels, fill)
        inverse = torch.argsort(order)  # back from coding order, scales then means
        return torch.cat(scales + means, dim=1)[:, torch.cat([inverse, M + inverse])], decoded

    # -- coding face -----------------------------------------------------------------------

    @torch.no_grad()
    def freeze(self) -> None:
        super().freeze()
        for net in [*self.anchor_nets, *self.other_nets]:
            net.freeze()

    def _code_half(self, params, half, positions, y_hat, decoded, code_group) -> None:
        """Code one half group by group, each group's tables corrected from the groups before."""
        nets, order, M = self.nets[half], self.order, len(self.order)
        flat = decoded.view(1, M, -1)
        for k, (a, b) in enumerate(self.bounds):
            channels = order[a:b]
            group = torch.cat([params[channels], params[M + channels]]).double()
            if k:
                correction = nets[k - 1].exact(decoded[:, order[:a]], positions, group)
                group = (group + correction).clamp(-ACT_MAX, ACT_MAX)
            means, scales = self._split(group)
            q = code_group(means, scales, positions, channels, self.streams[half])
            where = (channels[:, None], positions[None, :])
            exact = q.double() + means.double()
            y_hat[where] = exact.float()
            flat[0][where] = to_fixed(exact).float()

"""The latent decoder in numpy: z with its factorised prior, then y group by group, bit for bit
as aecodec.latent decodes it (the hyperprior, and the checkerboard and space-channel contexts).

The coding order, the streams and the fixed-point arithmetic are those of latent/hyperprior.py,
latent/checkerboard.py and latent/space_channel.py; their docstrings say why. Every value that
picks a table is an integer, so numpy's float64 products give the same tables as torch's.
"""

from typing import NamedTuple

import numpy as np

from aecodec.decoder.exact import ExactNet, to_fixed
from aecodec.entropy import coder
from aecodec.entropy.numerics import ACT_MAX, FA, POSITIONS, group_bounds, thresholds


class Tables(NamedTuple):
    counts: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray


class Reader:
    """The symbols of y, group by group from their streams, in the writer's order."""

    def __init__(self, strings: list[bytes], tables: Tables, nearest: bool) -> None:
        self.decoders = [coder.Decoder(data, tables) for data in strings]
        self.thresholds = thresholds(nearest)

    def __call__(self, scales: np.ndarray, stream: int) -> np.ndarray:
        indexes = np.searchsorted(self.thresholds, scales.ravel(), side="left")
        return self.decoders[stream].decode(indexes).reshape(scales.shape)

    def finish(self) -> None:
        for decoder in self.decoders:
            decoder.finish()


def read_z(data: bytes, channels: int, shape: tuple[int, int], tables: Tables) -> np.ndarray:
    """z_hat (channels, *shape), each channel with its own table row."""
    rows = np.broadcast_to(np.arange(channels)[:, None, None], (channels, *shape))
    return coder.decode(data, rows.ravel(), tables).reshape(channels, *shape).astype(np.float64)


def hyper_synthesis_plan() -> list:
    """h_s of models.hyperprior: two 3x3 convolutions each shuffled up by 2, a 1x1 one."""
    return [("conv", "h_s.0.0"), ("shuffle", 2), ("relu", None),
            ("conv", "h_s.2.0"), ("shuffle", 2), ("relu", None), ("conv", "h_s.4")]  # fmt: skip


class NoContext:
    streams = (0,)

    def decode(self, hyper: np.ndarray, read: Reader) -> np.ndarray:
        channels, h, w = hyper.shape
        scales, means = _split(hyper.reshape(channels, h * w))
        q = read(scales, 0)
        return (q + means).reshape(channels // 2, h, w)


class CheckerboardContext:
    streams = (0, 1)

    def __init__(self, state: dict[str, np.ndarray], M: int) -> None:
        k = state["context_model.context.weight"].shape[-1]
        offsets = np.arange(k) - k // 2
        odd = ((offsets[:, None] + offsets[None, :]) % 2 == 1).astype(np.float64)
        self.context = ExactNet(state, [("conv", "context_model.context")], mask=odd)
        prefix = "context_model.entropy_parameters"
        self.parameters = ExactNet(state, [("conv", f"{prefix}.0"), ("relu", None),
                                           ("conv", f"{prefix}.2"), ("relu", None),
                                           ("conv", f"{prefix}.4")])  # fmt: skip
        self.M = M

    def decode(self, hyper: np.ndarray, read: Reader) -> np.ndarray:
        channels, h, w = hyper.shape
        rows, cols = np.arange(h)[:, None], np.arange(w)[None, :]
        is_anchor = ((rows + cols) % 2 == 0).ravel()
        first, second = np.flatnonzero(is_anchor), np.flatnonzero(~is_anchor)
        hyper = hyper.reshape(channels, h * w)
        y_hat = np.zeros((self.M, h * w), np.float32)
        decoded = np.zeros((self.M, h, w), np.float32)  # y_hat in fixed point
        params = self._refine(hyper[:, first], None)
        self._decode_half(params, 0, first, y_hat, decoded, read)
        context = self.context(decoded, second)
        params = self._refine(hyper[:, second], context)
        self._decode_half(params, 1, second, y_hat, decoded, read)
        return y_hat.reshape(self.M, h, w)

    def _decode_half(self, params, half, positions, y_hat, decoded, read) -> None:
        scales, means = _split(params)
        exact = read(scales, self.streams[half]) + means
        y_hat[:, positions] = exact
        decoded.reshape(self.M, -1)[:, positions] = to_fixed(exact)

    def _refine(self, hyper: np.ndarray, context: np.ndarray | None) -> np.ndarray:
        """The hyperprior's fixed-point parameters (2M, n) plus the exact correction."""
        out = np.empty(hyper.shape, np.float32)
        for start in range(0, hyper.shape[1], POSITIONS):
            part = hyper[:, start : start + POSITIONS].astype(np.float64)
            if context is None:
                known = np.zeros((len(part) // 2, part.shape[1]))
            else:
                known = context[:, start : start + POSITIONS]
            features = np.concatenate([part, known])[:, :, None]
            correction = self.parameters(features)[:, :, 0]
            out[:, start : start + POSITIONS] = np.clip(correction + part, -ACT_MAX, ACT_MAX)
        return out


class SpaceChannelContext(CheckerboardContext):
    streams = (0, 0)

    def __init__(self, state: dict[str, np.ndarray], M: int) -> None:
        super().__init__(state, M)
        self.bounds = group_bounds(M)
        self.order = state["context_model.order"].astype(np.int64)
        self.nets = [[_ChannelNet(state, f"context_model.{kind}.{k}")
                      for k in range(len(self.bounds) - 1)]
                     for kind in ("anchor_nets", "other_nets")]  # fmt: skip

    def _decode_half(self, params, half, positions, y_hat, decoded, read) -> None:
        order, M = self.order, self.M
        flat = decoded.reshape(M, -1)
        for k, (a, b) in enumerate(self.bounds):
            channels = order[a:b]
            group = np.concatenate([params[channels], params[M + channels]]).astype(np.float64)
            if k:
                correction = self.nets[half][k - 1](decoded[order[:a]], positions, group)
                group = np.clip(group + correction, -ACT_MAX, ACT_MAX)
            scales, means = _split(group)
            exact = read(scales, self.streams[half]) + means
            where = (channels[:, None], positions[None, :])
            y_hat[where] = exact
            flat[where] = to_fixed(exact)


class _ChannelNet:
    def __init__(self, state: dict[str, np.ndarray], prefix: str) -> None:
        self.features = ExactNet(state, [("conv", f"{prefix}.features.0"), ("relu", None)])
        self.aggregate = ExactNet(state, [("conv", f"{prefix}.aggregate.0"), ("relu", None),
                                          ("conv", f"{prefix}.aggregate.2")])  # fmt: skip

    def __call__(self, known: np.ndarray, positions: np.ndarray, params: np.ndarray):
        out = np.empty(params.shape)
        for start in range(0, len(positions), POSITIONS):
            part = slice(start, start + POSITIONS)
            features = self.features(known, positions[part])
            both = np.concatenate([features, params[:, part]])[:, :, None]
            out[:, part] = self.aggregate(both)[:, :, 0]
        return out


def _split(params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-point (2c, n) parameters -> scales still in fixed point, and means as float32 (as
    entropy.integer.gaussian_parameters), then float64 for the sums with the symbols."""
    scales, means = np.split(np.asarray(params, np.float64), 2)
    return scales, (means * 2.0**-FA).astype(np.float32).astype(np.float64)

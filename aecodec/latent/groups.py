"""How a latent codec codes y: group by group, each group a set of positions (and channels) whose
Gaussian means and table scales both ends know before it is coded.

A context model walks the groups in coding order and hands each to a `GroupCoder`: the encoder's
(`SymbolWriter`) chooses the group's symbols, rounding y - mu or moving a symbol one step toward
zero where that saves more bits than it costs (rdoq), and writes them; the decoder's
(`SymbolReader`) reads them back. Either way the context model gets the same integer symbols and
derives the next groups' tables from them, so both ends stay in step. Each group names the
stream it goes to (the context model's stream plan), so a file's payloads are laid out by
design, not by the order of calls.
"""

from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from aecodec.entropy import coder
from aecodec.entropy.gaussian import GaussianConditional
from aecodec.entropy.integer import table_indexes
from aecodec.entropy.numerics import scale_table
from aecodec.entropy.tables import Tables
from aecodec.latent import rdoq


class GroupCoder(Protocol):
    def __call__(
        self,
        means: Tensor,
        scales: Tensor,
        positions: Tensor,
        channels: Tensor | None = None,
        stream: int = 0,
    ) -> Tensor:
        """The (c, n) integer symbols of one group: c channels (`channels`, or all of y) at n
        flat positions into h * w, with (c, n) means and fixed-point scales, in `stream`."""
        ...


class SymbolWriter:
    """The encoder's GroupCoder: chooses and writes the symbols of the gained latent y, tile by
    tile (`tile`), and sums the model's own estimate of their bits."""

    def __init__(self, tables: Tables, streams: int, tau: float, nearest: bool):
        self.tables, self.tau, self.nearest = tables, tau, nearest
        self.encoders = [coder.Encoder(tables) for _ in range(streams)]
        self.grid = torch.from_numpy(scale_table()).float()  # the scale of each table
        self.estimated_bits = 0.0
        self.y = torch.empty(0, 0)

    def tile(self, y: Tensor) -> "SymbolWriter":
        """The writer of the tile y (1, M, h, w) next: the groups' positions index into it."""
        self.y = y[0].reshape(y.shape[1], -1)
        return self

    def __call__(self, means, scales, positions, channels=None, stream=0) -> Tensor:
        indexes = table_indexes(scales, self.nearest)
        values = (self.y if channels is None else self.y[channels])[:, positions]
        if self.tau > 0:
            q = rdoq.toward_zero(values - means, indexes, self.tables, self.tau)
        else:
            q = torch.round(values - means)
        self.encoders[stream].encode(q.to(torch.int32).numpy().ravel(), indexes.numpy().ravel())
        likelihood = GaussianConditional.likelihood(q + means, self.grid[indexes], means)
        self.estimated_bits += float(-torch.log2(likelihood).sum())
        return q

    def finish(self) -> list[bytes]:
        return [encoder.finish() for encoder in self.encoders]


class SymbolReader:
    """The decoder's GroupCoder: reads the symbols from the streams, in the writer's order."""

    def __init__(self, strings: list[bytes], tables: Tables, nearest: bool):
        self.decoders = [coder.Decoder(data, tables) for data in strings]
        self.nearest = nearest

    def __call__(self, means, scales, positions, channels=None, stream=0) -> Tensor:
        indexes = table_indexes(scales, self.nearest).numpy().ravel()
        q = self.decoders[stream].decode(indexes)
        return torch.from_numpy(q.reshape(means.shape))

    def finish(self) -> None:
        """Check that every stream held exactly the symbols read (else ValueError)."""
        for decoder in self.decoders:
            decoder.finish()


def code_z(z_hat: Tensor, tables: Tables) -> bytes:
    """The hyper-latent's symbols, one table row per channel."""
    symbols = z_hat[0].to(torch.int32).numpy()
    rows = np.broadcast_to(np.arange(z_hat.shape[1])[:, None, None], symbols.shape)
    return coder.encode(symbols.ravel(), rows.ravel(), tables)


def read_z(data: bytes, channels: int, shape: tuple[int, int], tables: Tables) -> Tensor:
    """Inverse of code_z: z_hat (1, channels, *shape)."""
    rows = np.broadcast_to(np.arange(channels)[:, None, None], (channels, *shape))
    symbols = coder.decode(data, rows.ravel(), tables)
    return torch.from_numpy(symbols.reshape(1, channels, *shape)).float()

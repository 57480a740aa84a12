"""The coding face of a mean-scale hyperprior: the gained latent y to byte strings and back.

z = round(h_a(y)) is coded first with its factorised prior (one table per channel). Both ends
then run the hyper-synthesis in exact integer arithmetic (entropy.integer) to the same Gaussian
means and table scales for y, which a context model may refine group by group from the symbols
already coded (latent.checkerboard, latent.space_channel; `NoContext` codes y in one group).

The payloads of a file are its stream plan: z's stream, then y's streams as the context model
lays them out (`context.streams`, a stream per half of the checkerboard or one for all). A large
latent's y is coded tile by tile (bitstream.latent_tiles), each tile's groups continuing the
streams where the tile before left them; the context sees the tile alone, as if it were an image
of its own, the hyperprior all of z. Coding then holds one tile's parameters at a time, however
large the image.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from aecodec import bitstream
from aecodec.entropy.factorized import EntropyBottleneck
from aecodec.entropy.integer import IntegerHyperSynthesis, gaussian_parameters
from aecodec.entropy.tables import Tables
from aecodec.latent.groups import GroupCoder, SymbolReader, SymbolWriter, code_z, read_z


class NoContext:
    """y in one group: every position, every channel, with the hyperprior's parameters alone."""

    streams = (0,)  # y's stream of each half (here one half: all of y)

    def code(self, hyper: Tensor, code_group: GroupCoder) -> Tensor:
        _, _, h, w = hyper.shape
        means, scales = gaussian_parameters(hyper)
        means, scales = means[0].reshape(-1, h * w), scales[0].reshape(-1, h * w)
        q = code_group(means, scales, torch.arange(h * w))
        return (q.float() + means).reshape(1, -1, h, w)


@dataclass
class CodedLatent:
    strings: list[bytes]  # z's stream, then y's
    estimated_bits: float  # the model's own -log2 likelihood of the coded symbols
    y_hat: Tensor  # the gained latent the decoder will rebuild


class HyperpriorCodec:
    """compress(y) / decompress(strings) for a frozen hyperprior's entropy side."""

    def __init__(
        self,
        h_a: nn.Module,
        h_s_exact: IntegerHyperSynthesis,
        entropy_bottleneck: EntropyBottleneck,
        context,  # NoContext, CheckerboardContext or SpaceChannelContext: has streams, code()
        tables: dict[str, Tables],
    ) -> None:
        self.h_a, self.h_s_exact, self.entropy_bottleneck = h_a, h_s_exact, entropy_bottleneck
        self.context, self.tables = context, tables

    @property
    def payloads(self) -> int:
        """Byte strings per coded latent: z, then the streams of y."""
        return 1 + max(self.context.streams) + 1

    @torch.no_grad()
    def compress(self, y: Tensor, tau: float = 0.0, nearest: bool = True) -> CodedLatent:
        """Gained latent y (1, M, h, w), h and w multiples of 4, laid out as the newest format
        has it (bitstream.latent_tiles). With tau > 0 the symbols are chosen for rate plus tau
        times squared latent error (latent.rdoq) instead of rounded; `nearest` picks the tables
        as format 2 does, else as format 1 (table_indexes)."""
        z_hat = torch.round(self.h_a(y))
        z_string = code_z(z_hat, self.tables["z"])
        writer = SymbolWriter(self.tables["y"], self.payloads - 1, tau, nearest)
        y_hat = torch.empty_like(y)
        for rows, cols, hyper in self._tiles(z_hat, bitstream.FORMAT_VERSION):
            y_hat[:, :, rows, cols] = self.context.code(hyper, writer.tile(y[:, :, rows, cols]))
        z_bits = float(-torch.log2(self.entropy_bottleneck.likelihood(z_hat)).sum())
        return CodedLatent([z_string, *writer.finish()], z_bits + writer.estimated_bits, y_hat)

    @torch.no_grad()
    def decompress(
        self,
        strings: list[bytes],
        z_shape: tuple[int, int],
        nearest: bool = True,
        version: int = bitstream.FORMAT_VERSION,
    ) -> Tensor:
        """The gained y_hat of a file of this format version whose hyper-latent has z_shape,
        bit-exact with the encoder's (with the same `nearest`); ValueError for strings that no
        encoder wrote."""
        z_hat = read_z(strings[0], self.entropy_bottleneck.channels, z_shape, self.tables["z"])
        reader = SymbolReader(strings[1:], self.tables["y"], nearest)
        y_hat = None
        for rows, cols, hyper in self._tiles(z_hat, version):
            tile = self.context.code(hyper, reader)
            if y_hat is None:
                size = (self.h_s_exact.upscale * n for n in z_shape)
                y_hat = tile.new_empty(1, tile.shape[1], *size)
            y_hat[:, :, rows, cols] = tile
        reader.finish()
        return y_hat

    def _tiles(self, z_hat: Tensor, version: int) -> Iterator[tuple[slice, slice, Tensor]]:
        """y's rows and columns of each tile in coding order, with the tile's hyperprior
        parameters in fixed point (1, 2M, h, w) float32: the exact hyper-synthesis of the tile's
        z and of its neighbours' within reach, the same integers as over the whole of z."""
        up, reach = self.h_s_exact.upscale, self.h_s_exact.reach
        for z_rows, z_cols in bitstream.latent_tiles(*z_hat.shape[2:], version):
            top, left = max(z_rows.start - reach, 0), max(z_cols.start - reach, 0)
            window = z_hat[:, :, top : z_rows.stop + reach, left : z_cols.stop + reach]
            hyper = self.h_s_exact.fixed(window, torch.float32)
            inside = hyper[:, :, up * (z_rows.start - top) :, up * (z_cols.start - left) :]
            rows = slice(up * z_rows.start, up * z_rows.stop)
            cols = slice(up * z_cols.start, up * z_cols.stop)
            yield rows, cols, inside[:, :, : rows.stop - rows.start, : cols.stop - cols.start]

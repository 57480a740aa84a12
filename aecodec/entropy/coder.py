"""Range coding of integer symbols with the quantised tables (constriction's queue coder).

Symbols are grouped by table row, rows in increasing order, each group in its original order;
the decoder knows every symbol's row before it decodes (rows come from z or from the channel), so
it can regroup identically. Values outside a row's range are sent as the escape symbol, then
coded after all groups with a uniform Elias-gamma style code. A stream may hold several such
calls one after the other (Encoder, Decoder): a context model codes its groups in one stream.

A payload that no encoder wrote is refused rather than decoded into an image. While decoding, the
information of the symbols so far must fit in the payload's bits (a range coder cannot write a
message in fewer bits than its information under the tables, and constriction reads zeros past
the end): this stops a tiny payload that claims a huge image at its first rows. At the end, the
decoded symbols are coded again and must give back the payload byte for byte: a stream that ends
before its symbols do, or holds anything after them, is corrupt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import constriction
import numpy as np

if TYPE_CHECKING:  # torch stays out of the decoder that needs numpy alone (aecodec.decoder)
    from aecodec.entropy.tables import Tables

PRECISION = 16  # the tables' counts sum to 2**PRECISION

_ESCAPE_CHUNK = 12  # bits per uniform symbol in the escape code
_ESCAPE_MAX_BITS = 30
# The information check is a quick bound, not the proof (the re-coding is): a valid stream's
# information stays within a few bits of its length (constriction's rounding of the tables moves
# it a little), so a margin of 1/64 plus two words never refuses one.
_SLACK_FRACTION, _SLACK_BITS = 1 / 64, 64


class _Stream:
    """What both ends of a stream share: the tables, and the coder's model of each table row,
    built once per stream (a context model codes ten calls with the same rows in use)."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self._models: dict[int, constriction.stream.model.Categorical] = {}

    def _groups(self, rows: np.ndarray) -> tuple[np.ndarray, list]:
        """The symbols' coding order (by row, stable) and, per row in use, its model and the
        indices of its symbols."""
        order = np.argsort(rows, kind="stable")
        bounds = np.flatnonzero(np.diff(rows[order])) + 1
        groups = [(self._model(int(rows[g[0]])), g) for g in np.split(order, bounds) if len(g)]
        return order, groups

    def _model(self, row: int) -> constriction.stream.model.Categorical:
        if row not in self._models:
            length = int(self.tables.lengths[row])
            counts = np.asarray(self.tables.counts[row, : length + 1])
            # Counts / 2**PRECISION are exact binary fractions, so constriction receives the
            # same floats on every machine and derives the same fixed-point model from them.
            probabilities = counts.astype(np.float64) / (1 << PRECISION)
            self._models[row] = constriction.stream.model.Categorical(probabilities, perfect=False)
        return self._models[row]


class Encoder(_Stream):
    """One range-coded stream: calls of `encode` follow each other in it, and a decoder reads
    them back with as many calls of `Decoder.decode`, in the same order and with the same rows
    (so the rows of a call may depend on the symbols decoded before it)."""

    def __init__(self, tables: Tables) -> None:
        super().__init__(tables)
        self._coder = constriction.stream.queue.RangeEncoder()

    def encode(self, symbols: np.ndarray, rows: np.ndarray) -> None:
        """Encode int symbols, each with the table row given beside it."""
        rows = np.asarray(rows, dtype=np.int64)
        index = symbols.astype(np.int64) - np.asarray(self.tables.offsets)[rows]
        lengths = np.asarray(self.tables.lengths)[rows]
        escaped = (index < 0) | (index >= lengths)
        index = np.where(escaped, lengths, index).astype(np.int32)
        order, groups = self._groups(rows)
        for model, group in groups:
            self._coder.encode(index[group], model)
        _encode_escapes(self._coder, symbols[order][escaped[order]].astype(np.int64))

    def finish(self) -> bytes:
        return self._coder.get_compressed().astype("<u4").tobytes()


class Decoder(_Stream):
    """Reads what an Encoder wrote, call by call; ValueError when the data cannot be a stream
    of these symbols (empty, not whole words, or ending before its symbols do)."""

    def __init__(self, data: bytes, tables: Tables) -> None:
        super().__init__(tables)
        if len(data) % 4:
            raise ValueError(f"a stream of {len(data)} bytes is not made of 32-bit words")
        self._data = data
        self._capacity = 8 * len(data) * (1 + _SLACK_FRACTION) + _SLACK_BITS
        self._bits = 0.0  # information decoded so far, in bits under the tables
        # -log2 of each table entry's probability (a count of 2**PRECISION)
        counts = np.maximum(np.asarray(tables.counts).astype(np.float64), 1.0)
        self._cost = PRECISION - np.log2(counts)
        self._coder = constriction.stream.queue.RangeDecoder(np.frombuffer(data, dtype="<u4"))
        self._again = constriction.stream.queue.RangeEncoder()  # the decoded symbols, re-coded

    def decode(self, rows: np.ndarray) -> np.ndarray:
        """The symbols of one `Encoder.encode` call, in their original order."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) and not self._data:
            raise ValueError("the stream is empty, but symbols are coded in it")
        order, groups = self._groups(rows)
        index = np.empty(len(rows), dtype=np.int64)
        for model, group in groups:  # checked group by group: a bomb stops at its first rows
            index[group] = self._coder.decode(model, len(group))
            self._spend(float(self._cost[rows[group[0]], index[group]].sum()))
            self._again.encode(index[group].astype(np.int32), model)
        lengths = np.asarray(self.tables.lengths)[rows]
        symbols = index + np.asarray(self.tables.offsets)[rows]
        escaped_positions = order[(index == lengths)[order]]
        self._spend(len(escaped_positions) * np.log2(_ESCAPE_MAX_BITS + 1))  # before the loop
        escapes, bits = _decode_escapes(self._coder, len(escaped_positions))
        self._spend(bits)
        _encode_escapes(self._again, escapes)
        symbols[escaped_positions] = escapes
        return symbols.astype(np.int32)

    def finish(self) -> None:
        """Check, after the last call, that the stream holds exactly the symbols decoded."""
        if self._again.get_compressed().astype("<u4").tobytes() != self._data:
            raise ValueError(
                "the stream does not end where its symbols do (it ends before them or holds more)"
            )

    def _spend(self, bits: float) -> None:
        self._bits += bits
        if self._bits > self._capacity:
            raise ValueError(
                f"the stream ends before its symbols do: they hold {self._bits:.0f} bits of "
                f"information, more than its {8 * len(self._data)} bits"
            )


def encode(symbols: np.ndarray, rows: np.ndarray, tables: Tables) -> bytes:
    """A stream of one call: int symbols, each with the table row given beside it."""
    encoder = Encoder(tables)
    encoder.encode(symbols, rows)
    return encoder.finish()


def decode(data: bytes, rows: np.ndarray, tables: Tables) -> np.ndarray:
    """Inverse of encode: the symbols, in their original order."""
    decoder = Decoder(data, tables)
    symbols = decoder.decode(rows)
    decoder.finish()
    return symbols


def _encode_escapes(encoder, values: np.ndarray) -> None:
    # Zig-zag to non-negative, then the bit count and the bits after the leading one.
    for v in values.tolist():
        u = (2 * v if v >= 0 else -2 * v - 1) + 1
        n = u.bit_length() - 1
        if n > _ESCAPE_MAX_BITS:
            raise ValueError(f"latent value {v} is out of the codable range")
        encoder.encode(n, constriction.stream.model.Uniform(_ESCAPE_MAX_BITS + 1))
        for shift in range(0, n, _ESCAPE_CHUNK):
            width = min(_ESCAPE_CHUNK, n - shift)
            chunk = (u >> shift) & ((1 << width) - 1)
            encoder.encode(chunk, constriction.stream.model.Uniform(1 << width))


def _decode_escapes(decoder, count: int) -> tuple[np.ndarray, float]:
    """`count` escaped values and the information of their bits after the bit counts."""
    values, bits = [], 0
    for _ in range(count):
        n = int(decoder.decode(constriction.stream.model.Uniform(_ESCAPE_MAX_BITS + 1)))
        u = 1 << n
        for shift in range(0, n, _ESCAPE_CHUNK):
            width = min(_ESCAPE_CHUNK, n - shift)
            u |= int(decoder.decode(constriction.stream.model.Uniform(1 << width))) << shift
        u -= 1
        bits += n
        values.append(u // 2 if u % 2 == 0 else -(u + 1) // 2)
    return np.array(values, dtype=np.int64), float(bits)

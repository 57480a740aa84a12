"""Quantised probability tables: the only form in which the coder ever sees a distribution.

A table row k codes the integers offset[k] .. offset[k] + length[k] - 1 as symbols 0..length-1;
symbol `length[k]` is the escape for values outside that range, which are then coded with a
uniform fallback. Counts are integers summing to 2**PRECISION, every symbol gets at least one, and
the tables are computed once when a model is frozen and stored with its weights: the decoder
never evaluates a floating-point CDF, so no math library can make it disagree with the encoder.
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from aecodec.entropy.coder import PRECISION


@dataclass
class Tables:
    counts: Tensor  # (K, Lmax + 1) int32, row k holds length[k] + 1 counts then zeros
    offsets: Tensor  # (K,) int32
    lengths: Tensor  # (K,) int32

    def state(self, prefix: str) -> dict[str, Tensor]:
        return {f"{prefix}.counts": self.counts, f"{prefix}.offsets": self.offsets,
                f"{prefix}.lengths": self.lengths}  # fmt: skip

    @classmethod
    def from_state(cls, state: dict[str, Tensor], prefix: str) -> "Tables":
        return cls(*(state[f"{prefix}.{name}"] for name in ("counts", "offsets", "lengths")))


def quantise_pmfs(pmfs: list[np.ndarray], offsets: list[int]) -> Tables:
    """Turn float pmfs (each over its own support, tail mass implied) into integer tables."""
    total = 1 << PRECISION
    width = max(len(p) for p in pmfs) + 1
    counts = np.zeros((len(pmfs), width), dtype=np.int64)
    for k, pmf in enumerate(pmfs):
        pmf = np.clip(np.asarray(pmf, dtype=np.float64), 0.0, None)
        tail = max(1.0 - pmf.sum(), 0.0)
        probs = np.append(pmf, tail)
        row = np.floor(probs / probs.sum() * (total - len(probs))).astype(np.int64) + 1
        row[np.argmax(row)] += total - row.sum()  # the mode absorbs the rounding remainder
        counts[k, : len(row)] = row
    return Tables(
        counts=torch.from_numpy(counts.astype(np.int32)),
        offsets=torch.tensor(offsets, dtype=torch.int32),
        lengths=torch.tensor([len(p) for p in pmfs], dtype=torch.int32),
    )


def symbol_bits(tables: Tables, symbols: Tensor, rows: Tensor, escape_bits: float = 0.0) -> Tensor:
    """Ideal code length in bits of each symbol coded with its table row (float64). An escaped
    symbol costs its escape symbol plus `escape_bits`, a stand-in for the uniform code after it."""
    rows = rows.long()
    size = tables.lengths.long()[rows]
    index = symbols.long() - tables.offsets.long()[rows]
    escaped = (index < 0) | (index >= size)
    index = torch.where(escaped, size, index)
    bits = -torch.log2(tables.counts[rows, index].double() / (1 << PRECISION))
    return bits + escape_bits * escaped


def table_bits(tables: Tables, symbols: np.ndarray, rows: np.ndarray) -> float:
    """Ideal code length in bits of `symbols` coded with table `rows` (escapes not included)."""
    return float(symbol_bits(tables, torch.as_tensor(symbols), torch.as_tensor(rows)).sum())

"""Bitwise context mixing over parallel lanes, in integers, so both ends agree on every bit.

Each byte is coded as 8 binary decisions, most significant bit first (as in lpaq and PAQ; Mahoney
2005, "Adaptive weighing of context models for lossless data compression"). For every decision a
logistic mixer combines, in the stretch domain ln(p / (1 - p)):
  - adaptive order-n statistics of the file (orders 1-6 and 8, the current word, the word and
    the one before, order 0), probabilities in hashed tables that learn as the file is coded;
  - the match model's expected bit (match.py);
  - the pretrained model's probability of the bit given the bits of the byte seen so far (from
    its 256 integer byte weights, by partial sums), as it is and adapted by an APM;
and the mixers' weights, chosen by the bits seen so far and more, learn online too; two APMs
refine the mixers' mean.

All lanes advance one byte per step, and share the tables and the mixer: a lane learns from the
others. Updates by several lanes at once are integer sums, which do not depend on order, so the
shared state is the same at both ends. No floating point touches a probability: stretch and
squash are integer tables derived from lpaq's 33-point interpolation table. This file holds the
state and its sizes; the per-bit arithmetic is compiled loops (kernels.py).
"""

import functools

import numpy as np

TABLE_BITS = 21  # slots per context order
ORDERS = (1, 2, 3, 4, 5, 6, 8)  # byte orders hashed from the lane's last bytes
N_CONTEXTS = len(ORDERS) + 3  # + the word, + the word and the one before, + order 0
N_INPUTS = N_CONTEXTS + 4  # + the pretrained model, raw and adapted; + the match model; + a bias
COUNT_LIMIT = 255  # a slot counts its visits up to this
# A slot learns at rate 1 / (n + 1.5) after n visits, down to a floor: from format version 3 a
# floor for each context (orders 1-6 and 8, word, word pair, order 0), fast for the short
# contexts, which then follow the file's recent bytes, slower for the long ones (on one lane
# against no floor: progl -2.8 %, progc -1.9 %, news -1.4 %, book1 -0.3 %); version 2 had none.
RATE_FLOORS = {2: (COUNT_LIMIT,) * 10, 3: (3, 5, 8, 16, 32, 48, 48, 32, 32, 3)}
MIX_SHIFT = 11  # mixer learning rate: dw = err * x >> MIX_SHIFT (weights scaled by 2**16)
# From format version 3 the rate falls as the block goes on (a lane's step, shift): fast while
# the weights know little of the file, fine later (one lane, against 11 throughout: progc
# -0.7 %, progl, paper1 -0.4 %, book1 -0.3 %, news -0.1 %).
MIX_SCHEDULE = ((1 << 14, 10), (1 << 17, 11), (None, 12))
MIX_INIT = 1 << 14  # initial weight of each input (0.25)
BIAS = 256
APM_RATE = 6
MATCH_RATE = 6
MIXER2_SETS = 16 * 8 * 3
MIXER_SETS = 256 * N_CONTEXTS  # partial byte x number of byte contexts seen before (0..6)
P_LOW, P_HIGH = -(1 << 15) + 32, (1 << 15) - 32  # a slot's p(1) - 2**15, clamped
# A context slot: p(1) - 2**15 scaled by 2**16, how often it was seen (up to COUNT_LIMIT) and 8
# more bits of its context's hash, side by side: one cache line to fetch, not three.
SLOT = np.dtype([("prob", np.int32), ("count", np.int16), ("check", np.uint8), ("spare", np.uint8)])
HASH_MUL = np.uint64(0x9E3779B97F4A7C15)  # contexts are hashed by products that wrap (uint64)
_SQUASH_POINTS = (
    1, 2, 3, 6, 10, 16, 27, 45, 73, 120, 194, 310, 488, 747, 1101, 1546, 2047,
    2549, 2994, 3348, 3607, 3785, 3901, 3975, 4022, 4050, 4068, 4079, 4085, 4089, 4092, 4093, 4094,
)  # fmt: skip


@functools.cache
def squash_table() -> np.ndarray:
    """4096 / (1 + exp(-d / 256)) for d in -2047..2047 (index d + 2047), 12-bit, interpolated."""
    d = np.arange(-2047, 2048)
    w, i = d & 127, (d >> 7) + 16
    t = np.array(_SQUASH_POINTS, dtype=np.int64)
    return (t[i] * (128 - w) + t[np.minimum(i + 1, 32)] * w + 64) >> 7


@functools.cache
def stretch_table() -> np.ndarray:
    """The inverse of squash: ln(p / (1 - p)) * 256 for 12-bit p."""
    out, previous = np.full(4096, 2047, dtype=np.int64), 0
    for x, v in zip(range(-2047, 2048), squash_table().tolist(), strict=True):
        out[previous : v + 1] = x
        previous = max(previous, v + 1)
    return out


@functools.cache
def tables(version: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """squash, stretch, the context slots' learning rates (context by count: 2**16 / (n + 1.5)
    for count n, n at most the context's floor in RATE_FLOORS) and the masks of the byte
    orders' contexts."""
    n = np.minimum(np.arange(COUNT_LIMIT + 1), np.array(RATE_FLOORS[version])[:, None])
    rates = (1 << 16) * 2 // (2 * n + 3)
    masks = np.array([(1 << (8 * n)) - 1 for n in ORDERS], dtype=np.uint64)
    return squash_table(), stretch_table(), rates.astype(np.int64), masks


def apm_table(contexts: int) -> np.ndarray:
    """Adaptive probability maps (secondary estimation, lpaq1's APM shared by the lanes): for
    each context, 33 buckets of the stretch domain, each a 16-bit probability, that start as
    squash of their place and learn which fits; a probability and a context in, the two
    buckets around it interpolated out. One table holds several maps, told apart by their
    contexts' ranges."""
    buckets = squash_table()[np.clip((np.arange(33) - 16) * 128, -2047, 2047) + 2047]
    table = np.empty(contexts * 33, dtype=np.int32)
    table.reshape(contexts, 33)[:] = buckets * 16
    return table


class Mixer:
    """The state of one block's lanes, as kernels.py's loops take it: `state` is (tables,
    shared, lanes, byte, scratch), each a tuple of arrays:
      - tables: squash, stretch, the slots' learning rates, the byte orders' masks;
      - shared by the lanes: the context slots, both mixers' weights, the match model's
        probabilities by length, the APMs' table;
      - per lane: history, word, previous word, the partial byte c0;
      - per byte (shared by its 8 decisions): each context's slot and check bits, the final
        APMs' contexts, the model's byte weights as a tree, the match's expected byte and
        length;
      - per decision (from the prediction to the update): the slots, whether each held its
        context, their probabilities and counts, the mixers' inputs, weight sets and
        predictions, the APMs' learning buckets, whether the match agrees."""

    def __init__(self, lanes: int, version: int) -> None:
        size = N_CONTEXTS << TABLE_BITS
        shared = (
            np.zeros(size, dtype=SLOT),
            # Both mixers' weight sets (the second's after the first's), flat, 2**16 = 1.
            np.full((MIXER_SETS + MIXER2_SETS) * N_INPUTS, MIX_INIT, dtype=np.int64),
            np.tile(np.array([1 << 14, 3 << 14], dtype=np.int32), 16),  # match p(1), by length
            # Three APM maps of 2**16 contexts each: the model's probability adapted to the
            # file by order 1 (map 0); the final probability by order 1 (map 1) and hashed
            # order 2 (map 2).
            apm_table(3 << 16),
        )
        per_lane = (
            np.zeros(lanes, dtype=np.uint64),  # the lane's last 8 bytes
            np.zeros(lanes, dtype=np.uint64),  # hash of the current word's letters
            np.zeros(lanes, dtype=np.uint64),  # the word before it
            np.ones(lanes, dtype=np.int64),  # c0: the bits of the byte so far, behind a 1
        )
        byte = (
            np.zeros((lanes, N_CONTEXTS), dtype=np.int64),
            np.zeros((lanes, N_CONTEXTS), dtype=np.uint8),
            np.zeros((lanes, 2), dtype=np.int64),
            np.zeros((lanes, 512), dtype=np.int64),
            np.zeros(lanes, dtype=np.int64),
            np.zeros(lanes, dtype=np.int64),
        )
        n = (lanes, N_CONTEXTS)
        scratch = (
            np.zeros(n, dtype=np.int64),
            np.zeros(n, dtype=np.bool_),
            np.zeros(n, dtype=np.int64),
            np.zeros(n, dtype=np.int64),
            np.zeros((lanes, N_INPUTS), dtype=np.int64),
            np.zeros((lanes, 2), dtype=np.int64),
            np.zeros((lanes, 2), dtype=np.int64),
            np.zeros((lanes, 3), dtype=np.int64),
            np.zeros(lanes, dtype=np.bool_),
        )
        self.state = (tables(max(version, 2)), shared, per_lane, byte, scratch)


@functools.cache
def kernels():
    """The compiled loops (kernels.py), imported when a block is coded: numba takes a second
    to import, which `aecodec text info` and the rest of the package do without."""
    from aecodec.text import kernels

    return kernels

"""Bitwise context mixing over parallel lanes, in integers, so both ends agree on every bit.

Each byte is coded as 8 binary decisions, most significant bit first (as in lpaq and PAQ; Mahoney
2005, "Adaptive weighing of context models for lossless data compression"). For every decision a
logistic mixer combines, in the stretch domain ln(p / (1 - p)):
  - adaptive order-n statistics of the file (orders 1-4 and 6, the current word, order 0),
    probabilities in hashed tables that learn as the file is coded;
  - the pretrained model's probability of the bit given the bits of the byte seen so far (from
    its 256 integer byte weights, by partial sums);
and the mixer's weights, chosen by the bits seen so far, learn online too.

All lanes advance one byte per step, and share the tables and the mixer: a lane learns from the
others. Updates by several lanes at once go through `np.add.at`, whose integer sums do not depend
on order, so the shared state is the same at both ends. No floating point touches a probability:
stretch and squash are integer tables derived from lpaq's 33-point interpolation table.
"""

import functools

import numpy as np

TABLE_BITS = 21  # slots per context order
ORDERS = (1, 2, 3, 4, 5, 6, 8)  # byte orders hashed from the lane's last bytes
N_CONTEXTS = len(ORDERS) + 3  # + the word, + the word and the one before, + order 0
N_INPUTS = N_CONTEXTS + 4  # + the pretrained model, raw and adapted; + the match model; + a bias
COUNT_LIMIT = 255  # the table's learning rate falls as 1 / (n + 1.5) down to this
MIX_SHIFT = 11  # mixer learning rate: dw = err * x >> MIX_SHIFT (weights scaled by 2**16)
MIX_INIT = 1 << 14  # initial weight of each input (0.25)
BIAS = 256
APM_RATE = 6
MATCH_RATE = 6
MIXER2_SETS = 16 * 8 * 3
MIXER_SETS = 256 * N_CONTEXTS  # partial byte x number of byte contexts seen before (0..6)
_MUL = np.uint64(0x9E3779B97F4A7C15)
_MASK = (1 << TABLE_BITS) - 1
_P_LOW, _P_HIGH = -(1 << 15) + 32, (1 << 15) - 32
_ONES = np.ones(256 * N_CONTEXTS, dtype=np.int16)
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
def _rates() -> np.ndarray:
    return np.array([(1 << 16) * 2 // (2 * n + 3) for n in range(COUNT_LIMIT + 1)], np.int64)


def _squash(dot: np.ndarray) -> np.ndarray:
    p = squash_table()[np.minimum(np.maximum(dot, -2047), 2047) + 2047]
    return np.minimum(np.maximum(p, 1), 4095)


class APM:
    """Adaptive probability map (secondary estimation): a probability and a context in, a
    refined probability out, interpolated between 33 buckets of the stretch domain and learning
    which of them fits (lpaq1's APM, shared by the lanes)."""

    def __init__(self, contexts: int) -> None:
        buckets = squash_table()[np.clip((np.arange(33) - 16) * 128, -2047, 2047) + 2047]
        self.table = np.tile(buckets * 16, contexts).astype(np.int32)

    def refine(self, p: np.ndarray, context: np.ndarray) -> np.ndarray:
        """Refined p (lanes,) for each row of contexts (maps, lanes)."""
        s = stretch_table()[p] + 2048
        low, w = context * 33 + (s >> 7), s & 127
        self._index = (low + (w >> 6)).ravel()  # the nearer bucket learns
        return (self.table[low] * (128 - w) + self.table[low + 1] * w) >> 11

    def update(self, y: np.ndarray) -> None:
        """Learn from the bits y (lanes,), for every map that refined their probabilities."""
        y = np.tile(y, len(self._index) // len(y))
        target = (y << 16) + (y << APM_RATE) - y - y
        delta = (target - self.table[self._index]) >> APM_RATE
        np.add.at(self.table, self._index, delta.astype(np.int32))
        self.table[self._index] = np.minimum(np.maximum(self.table[self._index], 0), 65535)


class Mixer:
    """The shared state of one block's lanes: context tables, counts and mixer weights."""

    def __init__(self, lanes: int) -> None:
        size = N_CONTEXTS << TABLE_BITS
        self.prob = np.zeros(size, dtype=np.int32)  # p(1) - 2**15, scaled by 2**16
        self.count = np.zeros(size, dtype=np.int16)
        self.check = np.zeros(size, dtype=np.uint8)  # 8 more bits of the context's hash
        # Both mixers' weight sets in one array (the second's after the first's): one gather
        # and one update serve both.
        self.weights = np.full((MIXER_SETS + MIXER2_SETS, N_INPUTS), MIX_INIT, dtype=np.int64)
        self.flat_weights = self.weights.reshape(-1)  # a view: updates go through it
        self.match_prob = np.tile(np.array([1 << 14, 3 << 14], dtype=np.int32), 16)  # p(1)
        self.apm = APM(2 << 16)  # two maps of 2**16 contexts each: order 1 and hashed order 2
        self.model_apm = APM(1 << 16)  # the model's probability, adapted to the file by order 1
        self.history = np.zeros(lanes, dtype=np.uint64)  # the lane's last 8 bytes
        self.word = np.zeros(lanes, dtype=np.uint64)  # hash of the current word's letters
        self.previous_word = np.zeros(lanes, dtype=np.uint64)
        self._offsets = np.arange(N_CONTEXTS, dtype=np.int64) << TABLE_BITS
        self._order_masks = [np.uint64((1 << (8 * n)) - 1) for n in ORDERS]

    def begin_byte(
        self, active: int, byte_weights: np.ndarray | None, match: tuple | None = None
    ) -> None:
        """Hash each lane's contexts; take the model's byte weights (active, 256) or None, and
        the match model's expected bytes and match lengths."""
        self._expected, self._match_length = match if match else (None, None)
        h = self.history[:active]
        with np.errstate(over="ignore"):
            keys = [(h & m) * _MUL + np.uint64(i + 1) for i, m in enumerate(self._order_masks)]
            keys.append(self.word[:active] * _MUL + np.uint64(len(ORDERS) + 1))
            pair = (self.previous_word[:active] * _MUL + self.word[:active]) * _MUL
            keys.append(pair + np.uint64(len(ORDERS) + 2))
            keys.append(np.zeros(active, dtype=np.uint64))
            mixed = np.stack([k * _MUL for k in keys], axis=1)
        self._bases = (mixed >> np.uint64(64 - TABLE_BITS)).astype(np.int64)
        self._checks = (mixed >> np.uint64(56 - TABLE_BITS)).astype(np.uint8)
        self._c0 = np.ones(active, dtype=np.int64)
        self._bit = 7
        last2 = (h & np.uint64(0xFFFF)).astype(np.int64)
        self._apm_contexts = np.stack(
            [(last2 & 0xFF) << 8, (1 << 16) + ((last2 * 0x2F0B) & 0xFFFF)]
        )
        if byte_weights is None:
            self._cumulative = None
        else:
            cumulative = np.zeros((active, 257), dtype=np.int64)
            np.cumsum(byte_weights, axis=1, out=cumulative[:, 1:])
            self._cumulative = cumulative

    def predict(self) -> np.ndarray:
        """12-bit probabilities (1..4095) that the next bit of each active lane is 1."""
        c0, stretch = self._c0, stretch_table()
        spread = (c0 * 0x2545F491) & _MASK  # odd multiplier: a bijection of c0 on the slots
        self._idx = (self._bases ^ spread[:, None]) + self._offsets
        # A slot that holds another context (its check bits differ) counts as never seen.
        self._hit = self.check[self._idx] == self._checks
        self._p16 = np.where(self._hit, self.prob[self._idx], 0).astype(np.int64) + (1 << 15)
        self._count = np.where(self._hit, self.count[self._idx], 0)
        # The mixer's weight set: the bits seen so far, and how many of the byte contexts
        # (orders 1-6 and the word) have been seen before (PAQ selects by match order so).
        seen = (self._count[:, : N_CONTEXTS - 1] > 0).sum(axis=1)
        set1 = seen * 256 + c0
        inputs = np.empty((len(c0), N_INPUTS), dtype=np.int64)
        inputs[:, :N_CONTEXTS] = stretch[self._p16 >> 4]
        model_p = self._model_bit()
        model_stretch = stretch[model_p]
        inputs[:, N_CONTEXTS] = model_stretch
        adapted = self.model_apm.refine(model_p, (self._apm_contexts[0] | c0)[None])[0]
        inputs[:, N_CONTEXTS + 3] = stretch[np.minimum(np.maximum(adapted, 1), 4095)]
        inputs[:, N_CONTEXTS + 1] = self._match_input(c0)
        # The second mixer's weight set: the model's confidence (16 buckets), the bit position,
        # and the match: none, short, long (over 15 bytes).
        matched = 0
        if self._match_slot is not None:
            matched = self._match_agree * (1 + (self._match_length > 15))
        set2 = MIXER_SETS + (((model_stretch + 2048) >> 8) * 8 + self._bit) * 3 + matched
        inputs[:, N_CONTEXTS + 2] = BIAS
        self._inputs = inputs
        self._sets = np.empty((2, len(c0)), dtype=np.int64)
        self._sets[0], self._sets[1] = set1, set2
        dots = (inputs[None] * self.weights[self._sets]).sum(axis=2) >> 16
        self._mixed = _squash(dots)  # each mixer's own prediction, for its update
        p = _squash((dots[0] + dots[1]) >> 1)
        a = self.apm.refine(p, self._apm_contexts ^ c0)  # (2, lanes): c0 fills the low byte
        return np.minimum(np.maximum((a[0] + a[1] + 1) >> 1, 1), 4095)

    def _match_input(self, c0: np.ndarray) -> np.ndarray:
        """Stretched p(1) from the match model: how often a match of this length was right,
        pointed the way of the expected bit; 0 without a match or once it is contradicted."""
        self._match_slot = None
        if self._expected is None:
            return np.zeros(len(c0), dtype=np.int64)
        agree = (((self._expected | 256) >> (self._bit + 1)) == c0) & (self._match_length > 0)
        expected_bit = (self._expected >> self._bit) & 1
        slot = np.minimum(self._match_length, 15) * 2 + expected_bit
        self._match_slot, self._match_agree = slot, agree
        return np.where(agree, stretch_table()[self.match_prob[slot] >> 4], 0)

    def _model_bit(self) -> np.ndarray:
        if self._cumulative is None:
            return np.full(len(self._c0), 2048, dtype=np.int64)
        shift = self._bit
        lo = (self._c0 - (1 << (7 - shift))) << (shift + 1)
        rows = np.arange(len(lo))
        c = self._cumulative
        low, mid, high = c[rows, lo], c[rows, lo + (1 << shift)], c[rows, lo + (2 << shift)]
        total = high - low
        p = ((high - mid) * 4096 + total // 2) // np.maximum(total, 1)
        return np.where(total > 0, np.minimum(np.maximum(p, 1), 4095), 2048)

    def update(self, bits: np.ndarray) -> None:
        """Learn from the coded bits (one per active lane) and move to the next bit."""
        y = bits.astype(np.int64)
        idx = self._idx.ravel()  # np.add.at is fast on flat indices of the array's own dtype
        miss = ~self._hit.ravel()
        if miss.any():  # the new context takes the slot over; of two at once, the larger check
            taken = idx[miss]
            self.prob[taken] = 0
            self.count[taken] = 0
            np.maximum.at(self.check, taken, self._checks.ravel()[miss])
        count = self._count.ravel()
        delta = (((y << 16)[:, None] - self._p16).ravel() * _rates()[count]) >> 16
        np.add.at(self.prob, idx, delta.astype(np.int32))
        np.add.at(self.count, idx, _ONES[: len(idx)])
        # Lanes that hit one slot together may overshoot: clamp (the same value for each).
        self.prob[idx] = np.minimum(np.maximum(self.prob[idx], _P_LOW), _P_HIGH)
        self.count[idx] = np.minimum(self.count[idx], COUNT_LIMIT)
        self.apm.update(y)
        self.model_apm.update(y)
        if self._match_slot is not None and self._match_agree.any():
            slot = self._match_slot[self._match_agree]
            target = y[self._match_agree] << 16
            delta = (target - self.match_prob[slot]) >> MATCH_RATE
            np.add.at(self.match_prob, slot, delta.astype(np.int32))
            self.match_prob[slot] = np.minimum(np.maximum(self.match_prob[slot], 64), 65472)
        err = (y << 12)[None] - self._mixed
        cells = (self._sets * N_INPUTS)[..., None] + np.arange(N_INPUTS)
        grads = (self._inputs[None] * err[..., None]) >> MIX_SHIFT
        np.add.at(self.flat_weights, cells.ravel(), grads.ravel())
        self._c0 = self._c0 * 2 + y
        self._bit -= 1

    def end_byte(self, active: int, byte: np.ndarray) -> None:
        """Append each active lane's byte to its history and word."""
        b = byte.astype(np.uint64)
        self.history[:active] = (self.history[:active] << np.uint64(8)) | b
        lower = b | np.uint64(32)
        letter = (lower >= np.uint64(97)) & (lower <= np.uint64(122))
        with np.errstate(over="ignore"):
            grown = (self.word[:active] + lower) * _MUL
        ended = ~letter & (self.word[:active] != 0)
        self.previous_word[:active] = np.where(
            ended, self.word[:active], self.previous_word[:active]
        )
        self.word[:active] = np.where(letter, grown, np.uint64(0))

    def byte(self) -> np.ndarray:
        """The bytes just coded, once all 8 bits are in."""
        return (self._c0 - 256).astype(np.uint8)

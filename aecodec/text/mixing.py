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
    """squash of mixer dot products; the table's values are 1..4094 already."""
    return squash_table()[np.minimum(np.maximum(dot, -2047), 2047) + 2047]


@functools.cache
def _tables() -> dict[str, np.ndarray]:
    """Per-bit lookups folded into tables (each the same function as the expression it
    replaces, so the predictions do not change): a context slot's spread by the partial byte
    c0, the stretch of a 16-bit probability, and each node's (c0's) place in the byte."""
    c0 = np.arange(256)
    stretch = stretch_table()
    return {
        "spread": (c0 * 0x2545F491) & _MASK,  # odd multiplier: a bijection of c0 on the slots
        "stretch16": stretch[np.arange(1 << 16) >> 4],
        "stretch_clip": stretch[np.minimum(np.maximum(np.arange(4096), 1), 4095)],
        "stretch_p": stretch[np.minimum(np.maximum(np.arange(4097), 1), 4095)],
        "c0x33": c0 * 33,
        # the second mixer's set, by bit: MIXER_SETS + ((s >> 8) * 8 + bit) * 3 + match
        "set2": MIXER_SETS + (7 - np.arange(8)) * 3,
    }


class APM:
    """Adaptive probability maps (secondary estimation): a probability and a context in, a
    refined probability out, interpolated between 33 buckets of the stretch domain and learning
    which of them fits (lpaq1's APM, shared by the lanes). One table holds several maps, told
    apart by their contexts' ranges."""

    def __init__(self, contexts: int) -> None:
        buckets = squash_table()[np.clip((np.arange(33) - 16) * 128, -2047, 2047) + 2047]
        self.table = np.empty(contexts * 33, dtype=np.int32)
        self.table.reshape(contexts, 33)[:] = buckets * 16

    def interpolate(self, low: np.ndarray, w: np.ndarray) -> np.ndarray:
        """(t[low] * (128 - w) + t[low + 1] * w) >> 11, written with one product fewer."""
        t0 = self.table[low].astype(np.int64)
        return ((t0 << 7) + (self.table[low + 1] - t0) * w) >> 11

    def update(self, index: np.ndarray, y: np.ndarray) -> None:
        """Learn from the bits y (lanes,) at each refined map's nearer bucket (maps, lanes)."""
        target = y * ((1 << 16) + (1 << APM_RATE) - 2)
        delta = (target - self.table[index]) >> APM_RATE
        index = index.ravel()
        np.add.at(self.table, index, delta.ravel().astype(np.int32))
        self.table[index] = np.minimum(np.maximum(self.table[index], 0), 65535)


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
        # Three maps of 2**16 contexts each: the model's probability adapted to the file by
        # order 1 (map 0); the final probability by order 1 (map 1) and hashed order 2 (map 2).
        self.apm = APM(3 << 16)
        self.history = np.zeros(lanes, dtype=np.uint64)  # the lane's last 8 bytes
        self.word = np.zeros(lanes, dtype=np.uint64)  # hash of the current word's letters
        self.previous_word = np.zeros(lanes, dtype=np.uint64)
        self._offsets = np.arange(N_CONTEXTS, dtype=np.int64) << TABLE_BITS
        self._order_masks = np.array([(1 << (8 * n)) - 1 for n in ORDERS], dtype=np.uint64)
        self._order_adds = np.arange(1, len(ORDERS) + 1, dtype=np.uint64)
        self._cells = np.arange(N_INPUTS)

    def begin_byte(
        self, active: int, byte_weights: np.ndarray | None, expected: np.ndarray,
        match_length: np.ndarray,
    ) -> None:  # fmt: skip
        """Hash each lane's contexts; take the model's byte weights (active, 256) or None, and
        the match model's expected bytes and match lengths (0: no match)."""
        h = self.history[:active]
        keys = np.empty((active, N_CONTEXTS), dtype=np.uint64)
        with np.errstate(over="ignore"):
            keys[:, : len(ORDERS)] = (h[:, None] & self._order_masks) * _MUL + self._order_adds
            keys[:, len(ORDERS)] = self.word[:active] * _MUL + np.uint64(len(ORDERS) + 1)
            pair = (self.previous_word[:active] * _MUL + self.word[:active]) * _MUL
            keys[:, len(ORDERS) + 1] = pair + np.uint64(len(ORDERS) + 2)
            keys[:, len(ORDERS) + 2] = 0
            keys *= _MUL
        # The table's offset of each context order is above its slot bits, so adding it
        # before the spread's xor is the same as after.
        self._bases = (keys >> np.uint64(64 - TABLE_BITS)).astype(np.int64) + self._offsets
        self._checks = (keys >> np.uint64(56 - TABLE_BITS)).astype(np.uint8)
        self._c0 = np.ones(active, dtype=np.int64)
        self._bit = 7
        last1 = (h & np.uint64(0xFF)).astype(np.int64)
        hashed2 = ((h & np.uint64(0xFFFF)).astype(np.int64) * 0x2F0B) & 0xFFFF
        # The final APM's contexts (maps 1 and 2), xor c0 at each bit.
        self._apm_contexts = np.stack([(1 << 16) + (last1 << 8), (2 << 16) + hashed2])
        self._model_apm_low = (last1 << 8) * 33  # map 0: + c0 * 33 + the bucket, per node
        self._nodes(active, byte_weights)
        self._match(expected, match_length)
        self._apm_index = np.empty((3, active), dtype=np.int64)
        self._sets = np.empty((2, active), dtype=np.int64)

    def _nodes(self, active: int, byte_weights: np.ndarray | None) -> None:
        """The model's byte weights as a binary tree per lane (heap order: node c0 holds the
        sum of the weights of the bytes that begin with c0's bits, its children 2 c0 and
        2 c0 + 1), so a bit's probability is two look-ups and a division."""
        if byte_weights is None:  # no model: p = 2048 at every node
            tree = np.zeros((active, 512), dtype=np.int64)
        else:
            tree = np.empty((active, 512), dtype=np.int64)
            tree[:, 256:] = byte_weights
            for d in range(7, -1, -1):
                children = tree[:, 2 << d : 4 << d]
                np.add(children[:, ::2], children[:, 1::2], out=tree[:, 1 << d : 2 << d])
        # Rounded division by the node's sum, with p = 2048 where it is 0 (then so is the
        # numerator's first term): (ones * 4096 + half) // divisor.
        empty = tree == 0
        self._tree = tree.ravel()
        self._half = np.where(empty, 2048, tree >> 1).ravel()
        self._divisor = np.maximum(tree, 1).ravel()
        self._lane_nodes = np.arange(active) * 512

    def _match(self, expected: np.ndarray, length: np.ndarray) -> None:
        """The match model's byte as 8 bits ahead: the partial byte c0 that agrees with it at
        each bit (-1 without a match), and its slot in match_prob (length, expected bit)."""
        shifts = np.arange(7, -1, -1)[:, None]
        prefix = (expected | 256) >> (shifts + 1)
        self._match_prefix = np.where(length > 0, prefix, -1)
        self._match_slots = np.minimum(length, 15) * 2 + ((expected >> shifts) & 1)
        self._match_class = 1 + (length > 15)

    def predict(self) -> np.ndarray:
        """12-bit probabilities (1..4095) that the next bit of each active lane is 1."""
        c0, t, k = self._c0, _tables(), 7 - self._bit
        self._idx = self._bases ^ t["spread"][c0][:, None]
        # A slot that holds another context (its check bits differ) counts as never seen.
        self._hit = self.check[self._idx] == self._checks
        self._p16 = (self.prob[self._idx] * self._hit).astype(np.int64) + (1 << 15)
        self._count = self.count[self._idx] * self._hit
        # The mixer's weight set: the bits seen so far, and how many of the byte contexts
        # (orders 1-6 and the word) have been seen before (PAQ selects by match order so).
        seen = (self._count[:, : N_CONTEXTS - 1] > 0).sum(axis=1)
        # The model's p(1) for the bit given the bits so far: the weight of the bytes that
        # continue with a 1 over the weight of the node's bytes, rounded, stretched.
        node = self._lane_nodes + c0
        ones = self._tree[node + c0 + 1]  # the node's child 2 c0 + 1
        p = (ones * 4096 + self._half[node]) // self._divisor[node]
        inputs = np.empty((len(c0), N_INPUTS), dtype=np.int64)
        inputs[:, :N_CONTEXTS] = t["stretch16"][self._p16]
        inputs[:, N_CONTEXTS] = model_stretch = t["stretch_p"][p]
        # APM map 0 adapts it to the file, by order 1.
        s = model_stretch + 2048
        low = self._model_apm_low + t["c0x33"][c0] + (s >> 7)
        w = s & 127
        index = self._apm_index
        np.add(low, w >> 6, out=index[0])  # the nearer bucket learns
        inputs[:, N_CONTEXTS + 3] = t["stretch_clip"][self.apm.interpolate(low, w)]
        # The match model: how often a match of this length was right, pointed the way of the
        # expected bit; 0 without a match or once it is contradicted.
        self._match_agree = agree = self._match_prefix[k] == c0
        self._match_slot = self._match_slots[k]
        inputs[:, N_CONTEXTS + 1] = t["stretch16"][self.match_prob[self._match_slot]] * agree
        inputs[:, N_CONTEXTS + 2] = BIAS
        self._inputs = inputs
        # The second mixer's weight set: the model's confidence (16 buckets), the bit position,
        # and the match: none, short, long (over 15 bytes).
        sets = self._sets
        np.add(seen * 256, c0, out=sets[0])
        np.add((s >> 8) * 24 + t["set2"][k], agree * self._match_class, out=sets[1])
        dots = (inputs[None] * self.weights[sets]).sum(axis=2) >> 16
        self._mixed = _squash(dots)  # each mixer's own prediction, for its update
        s = stretch_table()[_squash((dots[0] + dots[1]) >> 1)] + 2048  # the final APMs
        low = (self._apm_contexts ^ c0) * 33 + (s >> 7)
        w = s & 127
        np.add(low, w >> 6, out=index[1:])
        a = self.apm.interpolate(low, w)
        return np.minimum(np.maximum((a[0] + a[1] + 1) >> 1, 1), 4095)

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
        delta = (((y << 16)[:, None] - self._p16) * _rates()[self._count]) >> 16
        np.add.at(self.prob, idx, delta.ravel().astype(np.int32))
        np.add.at(self.count, idx, _ONES[: len(idx)])
        # Lanes that hit one slot together may overshoot: clamp (the same value for each).
        self.prob[idx] = np.minimum(np.maximum(self.prob[idx], _P_LOW), _P_HIGH)
        self.count[idx] = np.minimum(self.count[idx], COUNT_LIMIT)
        self.apm.update(self._apm_index, y)
        agree = self._match_agree
        if agree.any():
            slot = self._match_slot[agree]
            delta = ((y[agree] << 16) - self.match_prob[slot]) >> MATCH_RATE
            np.add.at(self.match_prob, slot, delta.astype(np.int32))
            self.match_prob[slot] = np.minimum(np.maximum(self.match_prob[slot], 64), 65472)
        err = (y << 12) - self._mixed
        cells = (self._sets * N_INPUTS)[..., None] + self._cells
        grads = (self._inputs * err[..., None]) >> MIX_SHIFT
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

"""The coder's work as compiled loops (numba): the mixer, its tables, the match model, the binary
arithmetic coder and the byte model's integer forward pass.

mixing.py and match.py hold the state and say what it means; this file is the arithmetic, lane by
lane, with the integer semantics of the numpy code it replaced, so the coded streams are the same
bytes (the model's integers are model.py's exact face, computed without torch):

- shared state that several lanes update in one bit is updated in passes: every lane reads the
  state first (the prediction), then all the additions are made (integer sums do not depend on
  their order: what `np.add.at` did), then the clamps; a slot taken over by a new context is
  emptied before any addition lands in it;
- hashes are uint64 products that wrap, written with uint64 operands only (numba turns a mix of
  uint64 and int64 into float64);
- `>>` of a negative int64 floors, as numpy's does.

Compiled once per machine and cached beside this file (numba's `cache=True`: seconds on first
use; where that folder is read-only, numba uses the user's cache folder, and failing that the
loops are compiled in memory in each process). The cache is keyed by this file alone: after a
change to a constant of mixing.py or match.py, touch this file. nogil: the encoder runs the
model in other threads meanwhile.
"""

import functools

import numba
import numpy as np

from aecodec.text.match import MAX_LENGTH as MATCH_MAX
from aecodec.text.match import MIN_LENGTH as MATCH_MIN
from aecodec.text.match import TABLE_BITS as MATCH_TABLE_BITS
from aecodec.text.mixing import (
    APM_RATE,
    BIAS,
    COUNT_LIMIT,
    HASH_MUL,
    MATCH_RATE,
    MIX_SCHEDULE,
    MIX_SHIFT,
    MIXER_SETS,
    N_CONTEXTS,
    N_INPUTS,
    ORDERS,
    P_HIGH,
    P_LOW,
    TABLE_BITS,
)
from aecodec.text.model import ACT_MAX_INT, EXP_RANGE, FW, ExactTextModel, exp_table


def _jit(function):
    """Compiled once and cached on disk; where no cache folder is writable (numba then refuses
    cache=True), compiled in memory on first use in each process instead."""
    try:
        return numba.njit(cache=True, nogil=True)(function)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return numba.njit(nogil=True)(function)


_MASK = (1 << TABLE_BITS) - 1
_MUL = HASH_MUL
_KEY_SHIFT = np.uint64(64 - TABLE_BITS)
_CHECK_SHIFT = np.uint64(56 - TABLE_BITS)
N_ORDERS = len(ORDERS)
MIX_SCHEDULE_STEPS = tuple(step for step, _ in MIX_SCHEDULE[:-1])
MIX_SCHEDULE_SHIFTS = tuple(shift for _, shift in MIX_SCHEDULE)
MATCH_MASK = np.uint64((1 << (8 * MATCH_MIN)) - 1)
MATCH_SHIFT = np.uint64(64 - MATCH_TABLE_BITS)


@_jit
def begin_byte(active, mix, byte_weights, has_model):
    """Each lane's context slots and check bits, its final APMs' contexts (maps 1 and 2, xor c0
    at each bit; map 0's context is order 1, taken from apm_contexts[0] too) and the model's
    byte weights (active, 256) summed into a tree (heap order: node c0 holds the weight of the
    bytes that begin with c0's bits)."""
    order_masks = mix[0][3]
    history, word, previous_word, c0 = mix[2]
    bases, checks, apm_contexts, tree = mix[3][:4]
    for i in range(active):
        c0[i] = 1
        h = history[i]
        for j in range(N_ORDERS):
            key = ((h & order_masks[j]) * _MUL + np.uint64(j + 1)) * _MUL
            _slot(bases, checks, i, j, key)
        key = (word[i] * _MUL + np.uint64(N_ORDERS + 1)) * _MUL
        _slot(bases, checks, i, N_ORDERS, key)
        pair = (previous_word[i] * _MUL + word[i]) * _MUL
        _slot(bases, checks, i, N_ORDERS + 1, (pair + np.uint64(N_ORDERS + 2)) * _MUL)
        _slot(bases, checks, i, N_ORDERS + 2, np.uint64(0))
        last1 = np.int64(h & np.uint64(0xFF))
        hashed2 = (np.int64(h & np.uint64(0xFFFF)) * 0x2F0B) & 0xFFFF
        apm_contexts[i, 0] = (1 << 16) + (last1 << 8)
        apm_contexts[i, 1] = (2 << 16) + hashed2
        if has_model:
            for b in range(256):
                tree[i, 256 + b] = byte_weights[i, b]
            for node in range(255, 0, -1):
                tree[i, node] = tree[i, 2 * node] + tree[i, 2 * node + 1]
        else:
            tree[i, :] = 0


@_jit
def _slot(bases, checks, i, j, key):
    # The table's offset of context j is above its slot bits: adding it before the spread's
    # xor is the same as after.
    bases[i, j] = np.int64(key >> _KEY_SHIFT) + (j << TABLE_BITS)
    checks[i, j] = np.uint8(np.int64(key >> _CHECK_SHIFT) & 0xFF)


@_jit
def predict(active, bit, mix, out):
    """12-bit probabilities (1..4095) that bit `bit` of each active lane's byte is 1, into
    out; what update needs is kept in the state's scratch (mix[4])."""
    squash, stretch = mix[0][:2]
    slots, weights, match_prob, apm = mix[1]
    c0 = mix[2][3]
    bases, checks, apm_contexts, tree, expected, length = mix[3]
    idx, hit, p16, counts, inputs, sets, mixed, apm_index, agree = mix[4]
    # The slots first, all lanes' at once: their loads (cache misses, mostly) overlap.
    for i in range(active):
        spread = (c0[i] * 0x2545F491) & _MASK  # odd multiplier: a bijection of c0 on the slots
        for j in range(N_CONTEXTS):
            slot = slots[bases[i, j] ^ spread]
            idx[i, j] = bases[i, j] ^ spread
            # A slot that holds another context (its check bits differ) counts as never seen.
            h = slot.check == checks[i, j]
            hit[i, j] = h
            p16[i, j] = (slot.prob if h else 0) + (1 << 15)
            counts[i, j] = slot.count if h else 0
    for i in range(active):
        c = c0[i]
        seen = 0
        for j in range(N_CONTEXTS):
            if j < N_CONTEXTS - 1 and counts[i, j] > 0:
                seen += 1
            inputs[i, j] = stretch[p16[i, j] >> 4]
        # The model's p(1) given the bits so far: the weight of the bytes that continue with a
        # 1 over the node's weight, rounded (2048 where the node is empty), stretched.
        total = tree[i, c]
        half = 2048 if total == 0 else total >> 1
        p = (tree[i, 2 * c + 1] * 4096 + half) // max(total, 1)
        model_stretch = stretch[min(max(p, 1), 4095)]
        inputs[i, N_CONTEXTS] = model_stretch
        # APM map 0 adapts it to the file, by order 1 (apm_contexts[i, 0] - (1 << 16)).
        s = model_stretch + 2048
        low = (apm_contexts[i, 0] - (1 << 16) + c) * 33 + (s >> 7)
        w = s & 127
        apm_index[i, 0] = low + (w >> 6)  # the nearer bucket learns
        inputs[i, N_CONTEXTS + 3] = stretch[min(max(_interpolate(apm, low, w), 1), 4095)]
        # The match model: how often a match of this length was right, pointed the way of the
        # expected bit; 0 without a match or once it is contradicted.
        e, n = expected[i], length[i]
        a = n > 0 and ((e | 256) >> (bit + 1)) == c
        agree[i] = a
        slot = min(n, 15) * 2 + ((e >> bit) & 1)
        inputs[i, N_CONTEXTS + 1] = stretch[match_prob[slot] >> 4] if a else 0
        inputs[i, N_CONTEXTS + 2] = BIAS
        # The weight sets: the bits seen so far and how many byte contexts were seen before;
        # the model's confidence (16 buckets), the bit position and the match (none, short,
        # long: over 15 bytes).
        sets[i, 0] = seen * 256 + c
        cls = (1 + (n > 15)) if a else 0
        sets[i, 1] = (s >> 8) * 24 + MIXER_SETS + bit * 3 + cls
        total2 = np.int64(0)
        for m in range(2):
            base = sets[i, m] * N_INPUTS
            dot = np.int64(0)
            for k in range(N_INPUTS):
                dot += inputs[i, k] * weights[base + k]
            dot >>= 16
            mixed[i, m] = squash[min(max(dot, -2047), 2047) + 2047]
            total2 += dot
        s = stretch[squash[min(max(total2 >> 1, -2047), 2047) + 2047]] + 2048
        w = s & 127
        a2 = np.int64(0)
        for m in range(2):
            low = (apm_contexts[i, m] ^ c) * 33 + (s >> 7)
            apm_index[i, 1 + m] = low + (w >> 6)
            a2 += _interpolate(apm, low, w)
        out[i] = min(max((a2 + 1) >> 1, 1), 4095)


@_jit
def _interpolate(table, low, w):
    """(t[low] * (128 - w) + t[low + 1] * w) >> 11, written with one product fewer."""
    t0 = np.int64(table[low])
    return ((t0 << 7) + (table[low + 1] - t0) * w) >> 11


@_jit
def update(active, bit, bits, mix, shift):
    """Learn from the coded bits (one per active lane) and move c0 on. Lanes share the state:
    all of them read it (in predict), then every sum is made, then the clamps."""
    rates = mix[0][2]
    slots, weights, match_prob, apm = mix[1]
    c0 = mix[2][3]
    checks, expected, length = mix[3][1], mix[3][4], mix[3][5]
    idx, hit, p16, counts, inputs, sets, mixed, apm_index, agree = mix[4]
    # A new context takes the slot over (of two at once, the larger check); emptied before any
    # lane's addition lands in it.
    for i in range(active):
        for j in range(N_CONTEXTS):
            if not hit[i, j]:
                slot = slots[idx[i, j]]
                slot.prob = 0
                slot.count = 0
                slot.check = max(slot.check, checks[i, j])
    for i in range(active):
        y = np.int64(bits[i])
        for j in range(N_CONTEXTS):
            slot = slots[idx[i, j]]
            slot.prob += (((y << 16) - p16[i, j]) * rates[j, counts[i, j]]) >> 16
            slot.count += 1
    # Lanes that hit one slot together may overshoot: clamp (the same value for each).
    for i in range(active):
        for j in range(N_CONTEXTS):
            slot = slots[idx[i, j]]
            slot.prob = min(max(slot.prob, P_LOW), P_HIGH)
            slot.count = min(slot.count, COUNT_LIMIT)
    _learn_apm(active, bits, apm, apm_index)
    _learn_match(active, bits, bit, expected, length, match_prob, agree)
    for i in range(active):
        y = np.int64(bits[i])
        for m in range(2):
            err = (y << 12) - mixed[i, m]
            base = sets[i, m] * N_INPUTS
            for k in range(N_INPUTS):
                weights[base + k] += (inputs[i, k] * err) >> shift
        c0[i] = c0[i] * 2 + y


@_jit
def _learn_apm(active, bits, apm, apm_index):
    target = (1 << 16) + (1 << APM_RATE) - 2
    delta = np.empty((active, 3), dtype=np.int64)
    for i in range(active):
        for m in range(3):
            delta[i, m] = (np.int64(bits[i]) * target - apm[apm_index[i, m]]) >> APM_RATE
    for i in range(active):
        for m in range(3):
            apm[apm_index[i, m]] += delta[i, m]
    for i in range(active):
        for m in range(3):
            k = apm_index[i, m]
            apm[k] = min(max(apm[k], 0), 65535)


@_jit
def _learn_match(active, bits, bit, expected, length, match_prob, agree):
    delta = np.empty(active, dtype=np.int64)
    for i in range(active):
        if agree[i]:
            slot = min(length[i], 15) * 2 + ((expected[i] >> bit) & 1)
            delta[i] = ((np.int64(bits[i]) << 16) - match_prob[slot]) >> MATCH_RATE
    for i in range(active):
        if agree[i]:
            match_prob[min(length[i], 15) * 2 + ((expected[i] >> bit) & 1)] += delta[i]
    for i in range(active):
        if agree[i]:
            slot = min(length[i], 15) * 2 + ((expected[i] >> bit) & 1)
            match_prob[slot] = min(max(match_prob[slot], 64), 65472)


@_jit
def end_byte(active, byte, mix):
    """Append each active lane's byte to its history, its word and the word before."""
    history, word, previous_word = mix[2][:3]
    for i in range(active):
        b = np.uint64(byte[i])
        history[i] = (history[i] << np.uint64(8)) | b
        lower = b | np.uint64(32)
        if lower >= np.uint64(97) and lower <= np.uint64(122):
            word[i] = (word[i] + lower) * _MUL
        else:
            if word[i] != np.uint64(0):
                previous_word[i] = word[i]
            word[i] = np.uint64(0)


@_jit
def match_predict(active, flat, match, expected, length):
    """The expected next byte of each active lane and the match length (0: no match)."""
    pointer, match_length = match[1:]
    for i in range(active):
        expected[i] = np.int64(flat[max(pointer[i], 0)])
        length[i] = match_length[i] if pointer[i] >= 0 else 0


@_jit
def match_update(active, t, flat, width, context, history, match):
    """Byte t of the active lanes is in `flat` (the lanes' rows, `width` bytes each, the first
    `context` of them padding); `history` holds each lane's last 8 bytes."""
    table, pointer, match_length = match
    keys = np.empty(active, dtype=np.int64)
    for i in range(active):
        p = pointer[i]
        hit = p >= 0 and flat[max(p, 0)] == flat[i * width + context + t]
        pointer[i] = p + 1 if hit else -1
        match_length[i] = min(match_length[i] + 1, MATCH_MAX) if hit else 0
        keys[i] = np.int64(((history[i] & MATCH_MASK) * _MUL) >> MATCH_SHIFT)
        if t + 1 >= MATCH_MIN:
            found = table[keys[i]]  # positions of bytes coded in steps up to t
            if not hit and found >= 0:
                pointer[i] = found
                match_length[i] = 1
    if t + 1 >= MATCH_MIN:
        for i in range(active):  # of lanes sharing a key, the last lane wins
            table[keys[i]] = max(table[keys[i]], i * width + context + t + 1)
    # A pointer that ran off the end of its lane's row into the next row's padding, or off the
    # last row, is dropped.
    for i in range(active):
        p = pointer[i]
        if p >= flat.size or (p >= 0 and p % width < context):
            pointer[i] = -1
            match_length[i] = 0


@_jit
def begin_step(t, active, rows, weights, has_model, mix, match):
    """Everything step t's bits share but the model's byte weights (given: byte_weights):
    the match model's prediction and each lane's contexts."""
    match_predict(active, rows.reshape(rows.size), match, mix[3][4], mix[3][5])
    begin_byte(active, mix, weights[0], has_model)


@_jit
def decode_bit(active, bit, bits, mix, p):
    """Learn from bit `bit` of each active lane (as decoded) and, but after the last, predict
    the next one into p."""
    update(active, bit, bits, mix, MIX_SHIFT)
    if bit > 0:
        predict(active, bit - 1, mix, p)


@_jit
def end_step(t, active, rows, context, mix, match):
    """The bytes of step t, now in c0, into rows and the histories; the match model moves."""
    c0 = mix[2][3]
    byte = np.empty(active, dtype=np.int64)
    for i in range(active):
        byte[i] = c0[i] - 256
        rows[i, context + t] = byte[i]
    end_byte(active, byte, mix)
    match_update(active, t, rows.reshape(rows.size), rows.shape[1], context, mix[2][0], match)


@_jit
def mixer_shift(t):
    """Format version 3's mixer learning rate at step t (mixing.MIX_SCHEDULE)."""
    shift = MIX_SCHEDULE_SHIFTS[-1]
    for k in range(len(MIX_SCHEDULE_STEPS) - 1, -1, -1):
        if t < MIX_SCHEDULE_STEPS[k]:
            shift = MIX_SCHEDULE_SHIFTS[k]
    return shift


@_jit
def code_steps(t0, t1, active, rows, context, has_model, weights, mix, match, coder, out):
    """Steps t0 to t1 - 1 for the encoder, which knows every byte (in rows): each decision
    arithmetic-coded as soon as it is predicted, in the order the decoder reads them (step,
    bit, lane), into out, coder holding (x1, x2, bytes written). `weights` holds the model's
    byte weights of these steps, (steps, lanes, 256)."""
    p = np.empty(rows.shape[0], dtype=np.int64)
    bits = np.empty(rows.shape[0], dtype=np.int32)
    for t in range(t0, t1):
        a = active[t]
        match_predict(a, rows.reshape(rows.size), match, mix[3][4], mix[3][5])
        begin_byte(a, mix, weights[t - t0 if has_model else 0], has_model)
        for bit in range(7, -1, -1):
            predict(a, bit, mix, p)
            for i in range(a):
                bits[i] = (rows[i, context + t] >> bit) & 1
                encode_bit(coder, out, p[i], bits[i])
            update(a, bit, bits, mix, mixer_shift(t))
        end_step(t, a, rows, context, mix, match)


@_jit
def decode_steps(t0, t1, active, rows, context, has_model, model, own_weights, weights, mix,
                 match, coder, stream):  # fmt: skip
    """Steps t0 to t1 - 1 for the decoder (format version 3), each decision read from stream
    (coder: x1, x2, x, bytes read). With own_weights the model's byte weights of each step are
    computed here, in this thread; without, `weights` holds those of step t0 (one step)."""
    p = np.empty(rows.shape[0], dtype=np.int64)
    bits = np.empty(rows.shape[0], dtype=np.int32)
    for t in range(t0, t1):
        a = active[t]
        if has_model and own_weights:
            byte_weights(rows, t, 1, 0, a, model, weights)
        begin_step(t, a, rows, weights, has_model, mix, match)
        for bit in range(7, -1, -1):
            predict(a, bit, mix, p)
            for i in range(a):
                bits[i] = decode_bit_from(coder, stream, p[i])
            update(a, bit, bits, mix, mixer_shift(t))
        end_step(t, a, rows, context, mix, match)


# The binary arithmetic coder of format version 3: lpaq1's (Mahoney 2007), carry-less, on 32-bit
# integers, with the 12-bit probabilities the mixer gives. Written here, not taken from a library,
# because it runs inside the compiled loops: a call out per decision (constriction's, as versions
# 1 and 2 do) costs more than the decision itself when few lanes share a step. The interval
# [x1, x2] narrows to the part of the decided bit (1: the lower p / 4096 of it); a byte goes out
# as soon as both ends agree on it. The decoder reads the bytes past the end as 255, and reads
# exactly 3 of them when the stream is whole (the encoder ends with one byte of x1).
_TOP = 0xFF000000
_WORD = 0xFFFFFFFF


@_jit
def _split(x1, x2, p):
    r = x2 - x1
    return x1 + (r >> 12) * p + (((r & 0xFFF) * p) >> 12)


@_jit
def encode_bit(coder, out, p, y):
    """Code bit y of probability p / 4096 of being 1. Bytes past out's end are counted, not
    written: the caller stores a block whose code would not be smaller."""
    x1, x2, n = coder[0], coder[1], coder[2]
    middle = _split(x1, x2, np.int64(p))
    if y:
        x2 = middle
    else:
        x1 = middle + 1
    while ((x1 ^ x2) & _TOP) == 0:
        if n < out.size:
            out[n] = x2 >> 24
        n += 1
        x1 = (x1 << 8) & _WORD
        x2 = ((x2 << 8) & _WORD) | 255
    coder[0], coder[1], coder[2] = x1, x2, n


@_jit
def encode_end(coder, out):
    """The last byte: the top of x1 (the decoder's 255s after it land inside [x1, x2])."""
    if coder[2] < out.size:
        out[coder[2]] = coder[0] >> 24
    coder[2] += 1


@_jit
def decode_start(coder, stream):
    x = np.int64(0)
    for k in range(4):
        x = (x << 8) | (np.int64(stream[k]) if k < stream.size else 255)
    coder[0], coder[1], coder[2], coder[3] = 0, _WORD, x, 4


@_jit
def decode_bit_from(coder, stream, p):
    x1, x2, x, n = coder[0], coder[1], coder[2], coder[3]
    middle = _split(x1, x2, np.int64(p))
    y = np.int32(x <= middle)
    if y:
        x2 = middle
    else:
        x1 = middle + 1
    while ((x1 ^ x2) & _TOP) == 0:
        x1 = (x1 << 8) & _WORD
        x2 = ((x2 << 8) & _WORD) | 255
        x = ((x << 8) & _WORD) | (np.int64(stream[n]) if n < stream.size else 255)
        n += 1
    coder[0], coder[1], coder[2], coder[3] = x1, x2, x, n
    return y


@_jit
def byte_weights(rows, t0, steps, first, stop, model, out):
    """The model's exact face (model.ExactTextModel.probabilities, whose integers `model`
    holds: model_arrays) for steps t0 to t0 + steps - 1 of lanes first to stop - 1, the
    window of step t in lane i being rows[i, t : t + context]; into out (steps, lanes, 256).
    The same integers as model.py's: every sum is a sum of integers in a type that holds it
    exactly (so in any order), the embedding bag's in int32 (model.py bounds it below
    2**24)."""
    bag, b1, w2, b2, w3, b3, exp_table, w_max = model
    context = bag.shape[0] // 256
    hidden, hidden2 = w2.shape
    h1 = np.empty(hidden, dtype=np.int32)
    x2 = np.empty(hidden2, dtype=np.int32)
    acc2 = np.empty(hidden2, dtype=np.int64)
    acc3 = np.empty(256, dtype=np.int64)
    for t in range(steps):
        for i in range(first, stop):
            # The embedding bag: one table row per position, and the bias; then ReLU.
            for k in range(hidden):
                h1[k] = b1[k]
            for j in range(context):
                row = j * 256 + rows[i, t0 + t + j]
                for k in range(hidden):
                    h1[k] += bag[row, k]
            total = np.int64(0)
            for k in range(hidden):
                h1[k] = min(max(h1[k], 0), ACT_MAX_INT)
                total += h1[k]
            _dense(h1, total, w2, w_max[0], b2, acc2)
            total = np.int64(0)
            for k in range(hidden2):
                x2[k] = min(max(acc2[k] >> FW, 0), ACT_MAX_INT)  # requantised, ReLU
                total += x2[k]
            _dense(x2, total, w3, w_max[1], b3, acc3)
            top = -ACT_MAX_INT
            for m in range(256):
                acc3[m] = min(max(acc3[m] >> FW, -ACT_MAX_INT), ACT_MAX_INT)
                top = max(top, acc3[m])
            for m in range(256):
                out[t, i, m] = exp_table[min(top - acc3[m], EXP_RANGE)]


@_jit
def _dense(x, total, w, w_max, b, out):
    """out = x @ w + b for x >= 0 whose sum is `total`, and |w| <= w_max: exactly. Every
    partial sum of x @ w is at most total * w_max in size; below 2**31 (the usual case) the
    products are summed in int32, which is twice as fast, else in int64. The rows of w whose
    input is 0 (ReLU's zeros: most of them) are skipped."""
    width = w.shape[1]
    if total * w_max < 1 << 31:
        acc = np.zeros(width, dtype=np.int32)
        for k in range(len(x)):
            if x[k] != 0:
                for m in range(width):
                    acc[m] += x[k] * np.int32(w[k, m])
        for m in range(width):
            out[m] = b[m] + acc[m]
    else:
        out[:] = b
        for k in range(len(x)):
            if x[k] != 0:
                for m in range(width):
                    out[m] += np.int64(x[k]) * w[k, m]


@functools.lru_cache(maxsize=4)
def model_arrays(model: ExactTextModel) -> tuple:
    """The integers of the model's exact face, for byte_weights: the embedding bag's table
    (integers in float32 in model.py), the biases, the dense layers' weights (input by output)
    and the exponential table; each table in the narrowest integer type that holds it, so a
    window reads less memory."""
    w2, w3 = _narrow(model.fc2.w), _narrow(model.head.w)
    return (
        _narrow(model.bag.numpy()),
        model.b1.numpy().astype(np.int32),
        w2,
        model.fc2.b.astype(np.int64),
        w3,
        model.head.b.astype(np.int64),
        exp_table(),
        np.array([np.abs(w2).max(initial=0), np.abs(w3).max(initial=0)], dtype=np.int64),
    )


def _narrow(table: np.ndarray) -> np.ndarray:
    top = np.abs(table).max(initial=0)
    dtype = next(t for t in (np.int16, np.int32, np.int64) if top <= np.iinfo(t).max)
    if not np.array_equal(table, np.round(table)):
        raise ValueError("the model's tables hold integers")  # model.py makes them so
    return np.ascontiguousarray(table, dtype=dtype)


def no_model() -> tuple:
    """Stands in for model_arrays where there is no model (byte_weights is not called)."""
    return (
        np.zeros((256, 1), dtype=np.int16),
        np.zeros(1, dtype=np.int32),
        np.zeros((1, 1), dtype=np.int16),
        np.zeros(1, dtype=np.int64),
        np.zeros((1, 256), dtype=np.int16),
        np.zeros(256, dtype=np.int64),
        exp_table(),
        np.zeros(2, dtype=np.int64),
    )

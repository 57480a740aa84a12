"""One block of bytes <-> one range-coded stream, its lanes coded side by side.

A block of n bytes is cut into `lanes` contiguous lanes of ceil(n / lanes) bytes (the last ones
shorter or empty). Step t codes byte t of every lane still running, bit by bit, lane after lane
within each bit; the model, the mixer and the match model are compiled loops (kernels.py). The
encoder knows every byte: it runs the model on many steps at once, in other threads, and hands
constriction's queue coder the bits of many steps in one call. The decoder repeats the same
steps, the model one step at a time, and reads the bits back in the same order.
"""

import collections
from concurrent.futures import ThreadPoolExecutor

import constriction
import numpy as np

from aecodec.text.match import MatchModel
from aecodec.text.mixing import Mixer, kernels
from aecodec.text.model import PAD, ExactTextModel

_BERNOULLI = constriction.stream.model.Bernoulli(perfect=False)
MIN_LANE = 2048  # bytes per lane at least: a lane's first bytes have no context
# At most 64 lanes: more cost more than 0.3 % on some files (coded stream alone, 64 -> 96
# lanes: alice29.txt +0.19 %, news +0.31 %; 64 -> 128: book2 +0.29 %, news +0.41 %).
MAX_LANES = 64
# The encoder runs the model on about this many windows at once (steps ahead of the mixer,
# times lanes), in MODEL_THREADS threads while the mixer codes the batches before.
AHEAD_WINDOWS = 1024
MODEL_THREADS = 2
# The decoder runs the model one step at a time; from this many lanes on, in two threads.
SPLIT_LANES = 16


def lane_count(length: int) -> int:
    """Lanes for a block: as many as give MIN_LANE bytes each, 1 to MAX_LANES."""
    return max(1, min(MAX_LANES, length // MIN_LANE))


class _Lanes:
    """The block laid out as (lanes, context + lane length), each row behind `context` pads,
    with the mixer's and the match model's state and the model's integers."""

    def __init__(self, length: int, lanes: int, model: ExactTextModel | None) -> None:
        self.context = model.config.context if model is not None else 0
        self.size = -(-length // lanes) if length else 0
        lengths = np.clip(length - np.arange(lanes) * self.size, 0, self.size)
        self.active = (lengths[None, :] > np.arange(self.size)[:, None]).sum(axis=1)
        self.rows = np.full((lanes, self.context + self.size), PAD, dtype=np.uint8)
        self.length = length
        self.mix = Mixer(lanes).state
        self.match = MatchModel(lanes).state
        self.has_model = model is not None
        self.model = kernels().model_arrays(model) if model is not None else kernels().no_model()
        self.weights = np.zeros((1, lanes, 256), dtype=np.int64)  # one step's byte weights

    def ahead(self, t: int, steps: int) -> np.ndarray:
        """The model's weights for steps t to t + steps - 1 of every lane, (steps, lanes, 256),
        in one batch: the encoder knows every byte, and exact arithmetic gives the same
        numbers in a large batch as the decoder gets one step at a time."""
        if not self.has_model:
            return self.weights
        out = np.empty((steps, *self.weights.shape[1:]), dtype=np.int64)
        kernels().byte_weights(self.rows, t, steps, 0, len(self.rows), self.model, out)
        return out

    def flat(self) -> bytes:
        return self.rows[:, self.context :].tobytes()[: self.length]


def encode_block(data: bytes, lanes: int, model: ExactTextModel | None) -> bytes:
    """The range-coded stream of `data` (little-endian 32-bit words)."""
    block, compiled = _Lanes(len(data), lanes, model), kernels()
    padded = np.zeros(lanes * block.size, dtype=np.uint8)
    padded[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    block.rows[:, block.context :] = padded.reshape(lanes, block.size)
    coder = constriction.stream.queue.RangeEncoder()
    ahead = max(1, AHEAD_WINDOWS // lanes)
    p = np.empty(ahead * 8 * lanes, dtype=np.int64)
    bits = np.empty(ahead * 8 * lanes, dtype=np.int32)
    starts = iter(range(0, block.size, ahead))
    # The model's batches run ahead of the mixer in MODEL_THREADS threads (the compiled loops
    # let go of the GIL), a few at a time: memory stays bounded.
    with ThreadPoolExecutor(MODEL_THREADS) as pool:
        upcoming: collections.deque = collections.deque()

        def submit() -> None:
            t = next(starts, None)
            if t is not None:
                upcoming.append((t, pool.submit(block.ahead, t, min(ahead, block.size - t))))

        for _ in range(MODEL_THREADS + 1):
            submit()
        while upcoming:
            t, weights = upcoming.popleft()
            weights = weights.result()
            submit()
            n = compiled.encode_steps(
                t, min(t + ahead, block.size), block.active, block.rows, block.context,
                block.has_model, weights, block.mix, block.match, p, bits,
            )  # fmt: skip
            coder.encode(bits[:n], _BERNOULLI, p[:n] * (1.0 / 4096))
    return coder.get_compressed().astype("<u4").tobytes()


def decode_block(stream: bytes, length: int, lanes: int, model: ExactTextModel | None) -> bytes:
    """Inverse of encode_block, given the block's length and lane count from the container."""
    if len(stream) % 4:
        raise ValueError("a coded block is a whole number of 32-bit words")
    block, compiled = _Lanes(length, lanes, model), kernels()
    coder = constriction.stream.queue.RangeDecoder(np.frombuffer(stream, dtype="<u4").copy())
    rows, mix, match, p = block.rows, block.mix, block.match, np.empty(lanes, dtype=np.int64)
    model, weights = block.model, block.weights
    with ThreadPoolExecutor(1) as pool:
        for t in range(block.size):
            a = int(block.active[t])
            if block.has_model and a >= SPLIT_LANES:  # half of the lanes in the other thread
                other = pool.submit(compiled.byte_weights, rows, t, 1, a // 2, a, model, weights)
                compiled.byte_weights(rows, t, 1, 0, a // 2, model, weights)
                other.result()
            elif block.has_model:
                compiled.byte_weights(rows, t, 1, 0, a, model, weights)
            compiled.begin_step(t, a, rows, weights, block.has_model, mix, match)
            compiled.predict(a, 7, mix, p[:a])
            for bit in range(7, -1, -1):
                bits = coder.decode(_BERNOULLI, p[:a] * (1.0 / 4096))
                compiled.decode_bit(a, bit, bits, mix, p[:a])
            compiled.end_step(t, a, rows, block.context, mix, match)
    return block.flat()

"""One block of bytes <-> one arithmetic-coded stream, its lanes coded side by side.

A block of n bytes is cut into `lanes` contiguous lanes of ceil(n / lanes) bytes (the last ones
shorter or empty). Step t codes byte t of every lane still running, bit by bit, lane after lane
within each bit; the model, the mixer, the match model and the binary arithmetic coder are
compiled loops (kernels.py). The encoder knows every byte: it runs the model on many steps at
once, in other threads, while the mixer codes the steps before. The decoder repeats the same
steps, the model one step at a time, and reads the bits back in the same order. Files of format
versions 1 and 2 coded the decisions with constriction's range coder, called once per bit
(_decode_block_v2 reads them).
"""

import collections
from concurrent.futures import ThreadPoolExecutor

import constriction
import numpy as np

from aecodec.text.format import VERSION
from aecodec.text.match import MatchModel
from aecodec.text.mixing import Mixer, kernels
from aecodec.text.model import PAD, ExactTextModel

_BERNOULLI = constriction.stream.model.Bernoulli(perfect=False)
# One lane per block of the usual 1 MiB: each byte then learns from every byte before it. Lanes
# paid when every decision was a call out to the range coder (format version 2); coded inside
# the compiled loops, one lane decodes at about 50 KB/s and saves 1-4 % on files under 100 KB
# against the 2 KB lanes of version 2 (`bench/text.py --ablation --lanes 1`). Files with more
# lanes (tests write them, with a smaller MIN_LANE) decode as ever.
MIN_LANE = 1 << 20
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

    def __init__(
        self, length: int, lanes: int, model: ExactTextModel | None, version: int = VERSION
    ) -> None:
        self.context = model.config.context if model is not None else 0
        self.size = -(-length // lanes) if length else 0
        lengths = np.clip(length - np.arange(lanes) * self.size, 0, self.size)
        self.active = (lengths[None, :] > np.arange(self.size)[:, None]).sum(axis=1)
        self.rows = np.full((lanes, self.context + self.size), PAD, dtype=np.uint8)
        self.length = length
        self.mix = Mixer(lanes, version).state
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

    def step_weights(self, t: int, pool: ThreadPoolExecutor) -> None:
        """The model's weights for step t into self.weights (the decoder's, one step at a
        time): from SPLIT_LANES active lanes on, half of them in `pool`'s thread."""
        a, compiled = int(self.active[t]), kernels()
        if a < SPLIT_LANES:
            compiled.byte_weights(self.rows, t, 1, 0, a, self.model, self.weights)
            return
        other = pool.submit(
            compiled.byte_weights, self.rows, t, 1, a // 2, a, self.model, self.weights
        )
        compiled.byte_weights(self.rows, t, 1, 0, a // 2, self.model, self.weights)
        other.result()

    def flat(self) -> bytes:
        return self.rows[:, self.context :].tobytes()[: self.length]


def encode_block(data: bytes, lanes: int, model: ExactTextModel | None) -> bytes | None:
    """The arithmetic-coded stream of `data` (format version 3), or None where it would not be
    smaller than `data` (the block is stored: coding stops once it is that long)."""
    block, compiled = _Lanes(len(data), lanes, model), kernels()
    padded = np.zeros(lanes * block.size, dtype=np.uint8)
    padded[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    block.rows[:, block.context :] = padded.reshape(lanes, block.size)
    coder = np.array([0, 0xFFFFFFFF, 0], dtype=np.int64)
    out = np.empty(max(len(data) - 1, 0), dtype=np.uint8)
    ahead = max(1, AHEAD_WINDOWS // lanes)
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
        while upcoming and coder[2] < len(out):
            t, weights = upcoming.popleft()
            weights = weights.result()
            submit()
            compiled.code_steps(
                t, min(t + ahead, block.size), block.active, block.rows, block.context,
                block.has_model, weights, block.mix, block.match, coder, out,
            )  # fmt: skip
        for _, pending in upcoming:  # after an early stop
            pending.cancel()
    compiled.encode_end(coder, out)
    return out[: coder[2]].tobytes() if coder[2] <= len(out) else None


def decode_block(
    stream: bytes, length: int, lanes: int, model: ExactTextModel | None, version: int = VERSION
) -> bytes:
    """Inverse of encode_block, given the block's length and lane count from the container;
    ValueError where the stream is not one the encoder wrote for them (a corrupted file)."""
    if version < VERSION:
        return _decode_block_v2(stream, length, lanes, model, version)
    block, compiled = _Lanes(length, lanes, model), kernels()
    coder, data = np.zeros(4, dtype=np.int64), np.frombuffer(stream, dtype=np.uint8)
    compiled.decode_start(coder, data)
    args = (block.active, block.rows, block.context, block.has_model, block.model)
    state = (block.mix, block.match, coder, data)
    if not block.has_model or lanes < SPLIT_LANES:
        compiled.decode_steps(0, block.size, *args, True, block.weights, *state)
    else:  # the model's work of each step in two threads, half of the lanes each
        with ThreadPoolExecutor(1) as pool:
            for t in range(block.size):
                block.step_weights(t, pool)
                compiled.decode_steps(t, t + 1, *args, False, block.weights, *state)
    if coder[3] != len(stream) + 3:  # the encoder's bytes, all of them, and no more
        raise ValueError("the coded stream's length does not fit its decisions")
    return block.flat()


def _decode_block_v2(
    stream: bytes, length: int, lanes: int, model: ExactTextModel | None, version: int
) -> bytes:
    """Format versions 1 and 2: the decisions are coded by constriction's range coder."""
    if len(stream) % 4:
        raise ValueError("a coded block is a whole number of 32-bit words")
    block, compiled = _Lanes(length, lanes, model, version), kernels()
    coder = constriction.stream.queue.RangeDecoder(np.frombuffer(stream, dtype="<u4").copy())
    rows, mix, match, p = block.rows, block.mix, block.match, np.empty(lanes, dtype=np.int64)
    weights = block.weights
    with ThreadPoolExecutor(1) as pool:
        for t in range(block.size):
            a = int(block.active[t])
            if block.has_model:
                block.step_weights(t, pool)
            compiled.begin_step(t, a, rows, weights, block.has_model, mix, match)
            compiled.predict(a, 7, mix, p[:a])
            for bit in range(7, -1, -1):
                bits = coder.decode(_BERNOULLI, p[:a] * (1.0 / 4096))
                compiled.decode_bit(a, bit, bits, mix, p[:a])
            compiled.end_step(t, a, rows, block.context, mix, match)
    return block.flat()

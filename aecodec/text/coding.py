"""One block of bytes <-> one range-coded stream, its lanes coded side by side.

A block of n bytes is cut into `lanes` contiguous lanes of ceil(n / lanes) bytes (the last ones
shorter or empty). Step t codes byte t of every lane still running: the model sees all of them as
one batch, the mixer predicts each bit for all of them at once, and constriction's queue coder
takes that batch of bits in one call, lane after lane. The decoder repeats the same steps and so
reads the bits back in the same order.
"""

import functools
from concurrent.futures import ThreadPoolExecutor

import constriction
import numpy as np
import torch

from aecodec.text.match import MatchModel
from aecodec.text.mixing import Mixer
from aecodec.text.model import PAD, ExactTextModel

_BERNOULLI = constriction.stream.model.Bernoulli(perfect=False)
MIN_LANE = 2048  # bytes per lane at least: a lane's first bytes have no context
# At most 64 lanes: more share each step's numpy calls (128 lanes code about 15 % faster)
# but cost more than 0.3 % on some files (coded stream alone, 64 -> 96 lanes: alice29.txt
# +0.19 %, news +0.31 %; 64 -> 128: book2 +0.29 %, news +0.41 %).
MAX_LANES = 64
# The encoder knows every byte: it runs the model on about this many windows at once (steps
# ahead of the mixer, times lanes), in a second thread while the mixer codes the batch before.
AHEAD_WINDOWS = 1024


def lane_count(length: int) -> int:
    """Lanes for a block: as many as give MIN_LANE bytes each, 1 to MAX_LANES."""
    return max(1, min(MAX_LANES, length // MIN_LANE))


class _Lanes:
    """The block laid out as (lanes, context + lane length), each row behind `context` pads."""

    def __init__(self, length: int, lanes: int, model: ExactTextModel | None) -> None:
        self.model = model
        self.context = model.config.context if model is not None else 0
        self.size = -(-length // lanes) if length else 0
        lengths = np.clip(length - np.arange(lanes) * self.size, 0, self.size)
        self.active = (lengths[None, :] > np.arange(self.size)[:, None]).sum(axis=1)
        self.rows = np.full((lanes, self.context + self.size), PAD, dtype=np.uint8)
        self.length = length
        self.mixer = Mixer(lanes)
        self.match = MatchModel(self.rows, self.context)

    def begin(self, t: int, weights: np.ndarray | None = None) -> int:
        a = int(self.active[t])
        if weights is not None:
            weights = weights[:a]
        elif self.model is not None:
            weights = self.model.probabilities(self.rows[:a, t : t + self.context])
        self.mixer.begin_byte(a, weights, *self.match.predict(a))
        return a

    def end(self, t: int, a: int, byte: np.ndarray) -> None:
        """Byte t of the active lanes is known (and in `rows`)."""
        self.mixer.end_byte(a, byte)
        self.match.update(a, t, self.mixer.history[:a])

    def ahead(self, t: int, steps: int) -> np.ndarray:
        """The model's weights for steps t to t + steps - 1 of every lane, (steps, lanes, 256),
        in one batch: the encoder knows every byte, and exact arithmetic gives the same
        numbers in a large batch as the decoder gets one step at a time."""
        views = np.lib.stride_tricks.sliding_window_view(self.rows, self.context, axis=1)
        windows = np.ascontiguousarray(views[:, t : t + steps].transpose(1, 0, 2))
        flat = self.model.probabilities(windows.reshape(-1, self.context))
        return flat.reshape(windows.shape[0], windows.shape[1], 256)

    def flat(self) -> bytes:
        return self.rows[:, self.context :].tobytes()[: self.length]


def _one_thread(function):
    """Run a coding loop with one torch thread: its products are small, and a second thread
    spinning beside a busy core costs far more than it brings (150 ms instead of 7 per step when
    the machine is loaded). The result is the same with any thread count."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return function(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)

    return wrapper


@_one_thread
def encode_block(data: bytes, lanes: int, model: ExactTextModel | None) -> bytes:
    """The range-coded stream of `data` (little-endian 32-bit words)."""
    block = _Lanes(len(data), lanes, model)
    padded = np.zeros(lanes * block.size, dtype=np.uint8)
    padded[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    block.rows[:, block.context :] = padded.reshape(lanes, block.size)
    coder = constriction.stream.queue.RangeEncoder()
    ahead = max(1, AHEAD_WINDOWS // lanes)
    with ThreadPoolExecutor(1) as pool:  # the model's next batch beside the mixer's work
        upcoming = pool.submit(block.ahead, 0, ahead) if model is not None else None
        for t in range(block.size):
            if upcoming is not None and t % ahead == 0:
                weights = upcoming.result()
                if t + ahead < block.size:
                    upcoming = pool.submit(block.ahead, t + ahead, ahead)
            a = block.begin(t, weights[t % ahead] if model is not None else None)
            byte = block.rows[:a, block.context + t].astype(np.int32)
            for bit in range(7, -1, -1):
                p = block.mixer.predict()
                y = (byte >> bit) & 1
                coder.encode(y, _BERNOULLI, p * (1.0 / 4096))
                block.mixer.update(y)
            block.end(t, a, byte)
    return coder.get_compressed().astype("<u4").tobytes()


@_one_thread
def decode_block(stream: bytes, length: int, lanes: int, model: ExactTextModel | None) -> bytes:
    """Inverse of encode_block, given the block's length and lane count from the container."""
    if len(stream) % 4:
        raise ValueError("a coded block is a whole number of 32-bit words")
    block = _Lanes(length, lanes, model)
    coder = constriction.stream.queue.RangeDecoder(np.frombuffer(stream, dtype="<u4").copy())
    for t in range(block.size):
        a = block.begin(t)
        for _ in range(8):
            p = block.mixer.predict()
            block.mixer.update(coder.decode(_BERNOULLI, p * (1.0 / 4096)))
        byte = block.mixer.byte()
        block.rows[:a, block.context + t] = byte
        block.end(t, a, byte)
    return block.flat()

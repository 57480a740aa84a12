"""The coder's probabilities are the same bits in any process, with any number of threads."""

import hashlib
import random
import subprocess
import sys

import numba
import numpy as np
import pytest
import torch

from aecodec.text import coding, kernels
from aecodec.text.mixing import squash_table, stretch_table
from aecodec.text.model import (
    ACT_MAX,
    EXP_RANGE,
    ExactTextModel,
    TextModel,
    TextModelConfig,
    exp_table,
)

# Wide enough that BLAS splits the products between threads.
CONFIG = TextModelConfig(context=8, embed=8, hidden=256, hidden2=128)

_SCRIPT = """
import hashlib, sys
import numpy as np, torch
torch.set_num_threads(int(sys.argv[1]))
from aecodec.text import api, coding
from aecodec.text.model import ExactTextModel, TextModel, TextModelConfig
torch.manual_seed(0)
model = TextModel(TextModelConfig(context=8, embed=8, hidden=256, hidden2=128))
exact = ExactTextModel(model.eval())
windows = np.random.default_rng(0).integers(0, 256, (96, 8), dtype=np.uint8)
probabilities = exact.probabilities(windows)
codec = api.TextCodec.from_model(model, "probe")
text = b"It was the best of times, it was the worst of times; " * 40
one_lane = api.compress(text, codec)
coding.MIN_LANE = 64  # 33 lanes: the decoder's model runs in two threads
lanes = api.compress(text, codec)
assert api.decompress(one_lane, codec) == api.decompress(lanes, codec) == text
digests = [hashlib.sha256(x).hexdigest() for x in (probabilities.tobytes(), one_lane, lanes)]
print(*digests)
"""


def test_same_probabilities_and_file_with_1_and_2_threads_in_separate_processes():
    runs = [
        subprocess.Popen([sys.executable, "-c", _SCRIPT, str(n)], stdout=subprocess.PIPE, text=True)
        for n in (1, 2)
    ]
    outputs = [run.communicate(timeout=120)[0].split() for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert len(outputs[0]) == 3 and outputs[0] == outputs[1]


def test_integer_probabilities_match_the_float_model_closely():
    torch.manual_seed(0)
    model = TextModel(CONFIG).eval()
    windows = np.random.default_rng(1).integers(0, 256, (64, CONFIG.context), dtype=np.uint8)
    weights = ExactTextModel(model).probabilities(windows).astype(np.float64)
    with torch.no_grad():
        expected = torch.softmax(model(torch.from_numpy(windows)).double(), dim=1).numpy()
    assert np.abs(weights / weights.sum(1, keepdims=True) - expected).max() < 1e-3


def test_tables_are_the_published_functions():
    # Same on every machine by construction; these pin them so that a change is noticed.
    assert exp_table()[0] == 1 << 16 and exp_table()[EXP_RANGE] == 0
    assert abs(exp_table()[256] - 65536 / np.e) <= 0.5
    squash, stretch = squash_table(), stretch_table()
    assert squash[2047] == 2047 and squash[0] == 1 and squash[-1] == 4094
    assert np.all(np.diff(squash) >= 0) and np.all(np.diff(stretch) >= 0)
    digest = hashlib.sha256(squash.tobytes() + stretch.tobytes() + exp_table().tobytes())
    assert digest.hexdigest()[:16] == GOLDEN_TABLES


GOLDEN_TABLES = "e26ea0d808faaf49"


def _words(size: int) -> bytes:
    words = (
        b"Alice was beginning to get very tired of sitting by her sister on the bank, and of "
        b"having nothing to do: once or twice she had peeped into the book her sister was reading."
    ).split()
    rng = random.Random(7)
    return b" ".join(rng.choice(words) for _ in range(size // 4))[:size]


@pytest.mark.parametrize("lanes, digest", [(1, "001c66c5eac4cfd3"), (16, "25103d7680033e8f")])
def test_the_mixers_stream_is_pinned(lanes, digest):
    # The stream of the mixer and the match model alone (no model, so no torch in it): 16
    # lanes of repeated words share slots, weight sets and match entries in the same steps.
    # (The golden files pin the same mixer under the range coder of format version 2.)
    text = _words(6000) + bytes(range(256)) * 4
    stream = coding.encode_block(text, lanes, None)
    assert hashlib.sha256(stream).hexdigest()[:16] == digest
    assert coding.decode_block(stream, len(text), lanes, None) == text


def _code(p: np.ndarray, bits: np.ndarray) -> bytes:
    coder, out = np.array([0, 0xFFFFFFFF, 0], dtype=np.int64), np.empty(len(p), dtype=np.uint8)
    for probability, bit in zip(p, bits, strict=True):
        kernels.encode_bit(coder, out, probability, bit)
    kernels.encode_end(coder, out)
    return out[: coder[2]].tobytes()


def _decode(stream: bytes, p: np.ndarray) -> tuple[list[int], int]:
    coder, data = np.zeros(4, dtype=np.int64), np.frombuffer(stream, dtype=np.uint8)
    kernels.decode_start(coder, data)
    bits = [kernels.decode_bit_from(coder, data, probability) for probability in p]
    return bits, int(coder[3]) - len(stream)


def test_the_arithmetic_coder_is_exact_and_within_a_few_bytes_of_the_information():
    rng = np.random.default_rng(5)
    p = np.concatenate([rng.integers(1, 4096, 20000), np.full(5000, 4095), np.full(5000, 1)])
    bits = (rng.random(len(p)) * 4096 < p).astype(np.int32)
    stream = _code(p, bits)
    information = -np.log2(np.where(bits == 1, p, 4096 - p) / 4096).sum() / 8
    assert information <= len(stream) <= information * 1.001 + 4
    decoded, past_the_end = _decode(stream, p)
    assert decoded == bits.tolist() and past_the_end == 3  # the 3 bytes of 255 it reads past


def test_a_stream_with_bytes_added_is_refused_and_one_cut_short_never_gives_the_text():
    # Cut short, the decisions may come out otherwise and read as many bytes as a whole stream
    # does: then the text differs (and the file's checksum of it tells).
    text = _words(3000)
    stream = coding.encode_block(text, 2, None)
    for bad in (stream + b"\x00", stream + bytes(9)):
        with pytest.raises(ValueError):
            coding.decode_block(bad, len(text), 2, None)
    for cut in range(len(stream)):
        try:
            assert coding.decode_block(stream[:cut], len(text), 2, None) != text
        except ValueError:
            pass


def test_a_block_that_would_not_shrink_is_not_coded():
    noise = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    assert coding.encode_block(noise, 2, None) is None


def _compiled(exact: ExactTextModel, windows: np.ndarray) -> np.ndarray:
    """kernels.byte_weights over lanes whose rows are the windows, one step."""
    out = np.empty((1, len(windows), 256), dtype=np.int64)
    kernels.byte_weights(windows, 0, 1, 0, len(windows), kernels.model_arrays(exact), out)
    return out[0]


@pytest.mark.parametrize("loud", [1, 10000], ids=["plain", "clamped-int64-sums"])
def test_the_compiled_model_gives_the_exact_faces_integers(loud):
    # loud: first-layer weights so large that activations hit their clamp and the dense
    # layers' sums leave int32 (the kernel's other path).
    torch.manual_seed(0)
    model = TextModel(CONFIG)
    with torch.no_grad():
        model.fc1.weight.mul_(loud)
        model.fc2.weight.mul_(min(loud, 30))
    exact = ExactTextModel(model.eval())
    windows = np.random.default_rng(2).integers(0, 256, (48, CONFIG.context), dtype=np.uint8)
    assert np.array_equal(_compiled(exact, windows), exact.probabilities(windows))
    positions = np.arange(CONFIG.context) * 256
    h1 = exact.bag.numpy()[positions + windows].sum(axis=1) + exact.b1.numpy()
    w_max = kernels.model_arrays(exact)[-1][0]
    assert (h1 > ACT_MAX).any() == (loud > 1)
    assert (np.clip(h1, 0, ACT_MAX).sum(axis=1) * w_max >= 2**31).any() == (loud > 1)


def test_the_compiled_model_reads_each_lanes_window_at_each_step():
    torch.manual_seed(1)
    exact = ExactTextModel(TextModel(CONFIG).eval())
    rows = np.random.default_rng(3).integers(0, 256, (5, 40), dtype=np.uint8)
    out = np.zeros((6, 5, 256), dtype=np.int64)
    kernels.byte_weights(rows, 3, 6, 1, 4, kernels.model_arrays(exact), out)
    for t in range(6):
        windows = np.ascontiguousarray(rows[1:4, 3 + t : 3 + t + CONFIG.context])
        assert np.array_equal(out[t, 1:4], exact.probabilities(windows))
    assert not out[:, [0, 4]].any()  # lanes 0 and 4 were not asked for


def test_the_loops_compile_where_no_cache_folder_is_writable(monkeypatch):
    # numba refuses cache=True when it finds no writable folder; the loops then compile in
    # memory instead of failing the import.
    monkeypatch.setattr(numba.core.caching.CacheImpl, "_locator_classes", [])

    def twice(x):
        return 2 * x

    assert kernels._jit(twice)(21) == 42


_NO_CACHE = """
import numba.core.caching
numba.core.caching.CacheImpl._locator_classes = []
from aecodec.text import coding
text = b"any text at all, coded without a cache folder " * 50
assert coding.decode_block(coding.encode_block(text, 4, None), len(text), 4, None) == text
"""


@pytest.mark.slow
def test_coding_works_where_no_cache_folder_is_writable():
    done = subprocess.run([sys.executable, "-c", _NO_CACHE], capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-2000:]

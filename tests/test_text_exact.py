"""The coder's probabilities are the same bits in any process, with any number of threads."""

import hashlib
import subprocess
import sys

import numpy as np
import torch

from aecodec.text.mixing import squash_table, stretch_table
from aecodec.text.model import EXP_RANGE, ExactTextModel, TextModel, TextModelConfig, exp_table

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
coding.MIN_LANE = 64
text = b"It was the best of times, it was the worst of times; " * 40
packed = api.compress(text, api.TextCodec.from_model(model, "probe"))
print(hashlib.sha256(probabilities.tobytes()).hexdigest(), hashlib.sha256(packed).hexdigest())
"""


def test_same_probabilities_and_file_with_1_and_2_threads_in_separate_processes():
    runs = [
        subprocess.Popen([sys.executable, "-c", _SCRIPT, str(n)], stdout=subprocess.PIPE, text=True)
        for n in (1, 2)
    ]
    outputs = [run.communicate(timeout=120)[0].split() for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert len(outputs[0]) == 2 and outputs[0] == outputs[1]


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

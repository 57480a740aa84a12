import numpy as np
import torch

from aecodec.gains import between_lambdas, round_significant, synthesis_gain
from aecodec.nn.synthesis_int import gain_grid


def test_rounding_keeps_twenty_significant_bits_as_the_version_4_rule_does():
    values = np.random.default_rng(0).lognormal(0, 3, 10_000)
    rounded = round_significant(values)
    assert np.array_equal(rounded, gain_grid(torch.from_numpy(values)).numpy())
    assert np.all(np.abs(rounded / values - 1) <= 2.0**-20)


def test_a_quality_on_a_trained_level_takes_its_gains_and_between_mixes_them():
    gains = np.array([[1.0, 4.0], [4.0, 0.25], [2.0, 2.0]], np.float32)
    assert between_lambdas(50, 3) == (1, 0.0) and between_lambdas(100, 3) == (1, 1.0)
    assert np.array_equal(synthesis_gain(gains, 50), [4.0, 0.25])
    assert np.array_equal(synthesis_gain(-gains, 100), [2.0, 2.0])  # signs are the model's
    assert np.allclose(synthesis_gain(gains, 25), [2.0, 1.0], rtol=2.0**-19)

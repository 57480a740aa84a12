"""Entropy models (what the rate is), their integer tables and the coder that writes bits."""

from aecodec.entropy.factorized import EntropyBottleneck
from aecodec.entropy.gaussian import GaussianConditional
from aecodec.entropy.integer import ExactNet, IntegerHyperSynthesis, table_indexes, to_fixed

__all__ = [
    "EntropyBottleneck",
    "ExactNet",
    "GaussianConditional",
    "IntegerHyperSynthesis",
    "table_indexes",
    "to_fixed",
]

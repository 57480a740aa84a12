"""Entropy models (what the rate is), their integer tables and the coder that writes bits."""

from aecodec.entropy.factorized import EntropyBottleneck
from aecodec.entropy.gaussian import GaussianConditional
from aecodec.entropy.integer import IntegerHyperSynthesis

__all__ = ["EntropyBottleneck", "GaussianConditional", "IntegerHyperSynthesis"]

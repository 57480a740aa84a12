"""Latent codecs: the gained latent y of an image to byte strings and back, bit-exact.

hyperprior.py holds the coding face (z with its factorised prior, then y group by group with
Gaussian tables), groups.py the protocol between a context model and the coder (and the
encoder's choice of symbols, rdoq.py), checkerboard.py and space_channel.py the context models.
"""

from aecodec.latent.groups import GroupCoder, SymbolReader, SymbolWriter
from aecodec.latent.hyperprior import CodedLatent, HyperpriorCodec, NoContext

__all__ = [
    "CodedLatent",
    "GroupCoder",
    "HyperpriorCodec",
    "NoContext",
    "SymbolReader",
    "SymbolWriter",
]

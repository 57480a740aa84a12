"""Learned lossless text compression: `compress(data) -> bytes`, `decompress(data) -> bytes`."""

from aecodec.text.api import compress, decompress, info, load_model

__all__ = ["compress", "decompress", "info", "load_model"]

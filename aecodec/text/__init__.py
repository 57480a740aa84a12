"""Learned lossless text compression: `compress(data) -> bytes`, `decompress(data) -> bytes`.

The names load on first use (the model's code needs torch; listing models does not)."""

__all__ = ["compress", "decompress", "info", "load_model"]


def __getattr__(name: str):
    if name in __all__:
        from aecodec.text import api

        return getattr(api, name)
    raise AttributeError(f"module 'aecodec.text' has no attribute {name!r}")

"""Entropy models (what the rate is), their integer tables and the coder that writes bits."""

__all__ = [
    "EntropyBottleneck",
    "ExactNet",
    "GaussianConditional",
    "IntegerHyperSynthesis",
    "table_indexes",
    "to_fixed",
]

# Where each name lives, imported on first use (PEP 562): the coder alone needs no torch, and
# the numpy decoder (aecodec.decoder) imports it without paying for torch's import.
_PUBLIC = {
    "EntropyBottleneck": "aecodec.entropy.factorized",
    "GaussianConditional": "aecodec.entropy.gaussian",
    "ExactNet": "aecodec.entropy.integer",
    "IntegerHyperSynthesis": "aecodec.entropy.integer",
    "table_indexes": "aecodec.entropy.integer",
    "to_fixed": "aecodec.entropy.integer",
}


def __getattr__(name: str):
    if name in _PUBLIC:
        import importlib

        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'aecodec.entropy' has no attribute '{name}'")

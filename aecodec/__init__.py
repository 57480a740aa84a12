"""aecodec: a learned image codec and autoencoder toolkit.

import aecodec
data = aecodec.compress("photo.png", quality=75)   # bytes of an .aec file
image = aecodec.decompress(data)                    # a PIL image
clean = aecodec.denoise("noisy.png")                # noise level estimated; sigma=25 to set it
whole = aecodec.repair("scan.png", "scratches.png") # white in the mask is filled
"""

__all__ = ["compress", "decompress", "load_model", "available_models", "denoise", "repair"]
__version__ = "0.1.0"

# Where each public name lives. They are imported on first use (PEP 562): importing torch takes
# one to two seconds, which `aecodec --help`, `aecodec info` and `aecodec models` never need.
_PUBLIC = {
    "compress": "aecodec.codec",
    "decompress": "aecodec.codec",
    "load_model": "aecodec.zoo",
    "available_models": "aecodec.zoo",
    "denoise": "aecodec.restore.denoise.api",
    "repair": "aecodec.restore.repair.api",
}


def __getattr__(name: str):
    if name in _PUBLIC:
        import importlib

        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'aecodec' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])

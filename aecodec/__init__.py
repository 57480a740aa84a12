"""aecodec: a learned image codec and autoencoder toolkit.

import aecodec
data = aecodec.compress("photo.png", quality=75)   # bytes of an .aec file
image = aecodec.decompress(data)                    # a PIL image
"""

from aecodec.codec import compress, decompress
from aecodec.zoo import available_models, load_model

__all__ = ["compress", "decompress", "load_model", "available_models"]
__version__ = "0.1.0"

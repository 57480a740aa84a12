"""Building blocks every model of the package shares: layers, tiling, and the training skeleton
(loop, crop sampler, log) that the codec's and the wings' trainers use."""

from aecodec.nn.gdn import GDN
from aecodec.nn.layers import conv, deconv, subpel_up

__all__ = ["GDN", "conv", "deconv", "subpel_up"]

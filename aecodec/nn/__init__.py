"""Layers shared by the models."""

from aecodec.nn.gdn import GDN
from aecodec.nn.layers import conv, deconv, subpel_up

__all__ = ["GDN", "conv", "deconv", "subpel_up"]

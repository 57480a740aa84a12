"""Entropy models (what the rate is), their integer tables and the coder that writes bits.

Import from the modules themselves: the range coder (coder.py) and the numbers both ends agree
on (numerics.py) need no torch, and the numpy decoder (aecodec.decoder) imports them alone.
"""

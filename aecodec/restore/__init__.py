"""Restoring photos with trained networks: denoise (blind Gaussian noise removal) and repair
(inpainting of masked pixels)."""

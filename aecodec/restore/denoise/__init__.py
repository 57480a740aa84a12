"""Blind Gaussian denoising of photos with a trained FFDNet-style network."""

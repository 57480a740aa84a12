"""Where the autoencoders' registry lives: light (no torch), so listing them is quick."""

from pathlib import Path

from aecodec.registry import Registry

SHIPPED = Path(__file__).parent / "weights"
MODELS = Registry("autoencoder", SHIPPED, frozenset({"dense", "conv", "vae"}))

"""Where the text models' registry lives: light (no torch), so listing them is quick."""

from pathlib import Path

from aecodec.registry import Registry

WEIGHTS = Path(__file__).parent / "weights"
MODELS = Registry("text model", WEIGHTS, frozenset({"window-mlp"}))

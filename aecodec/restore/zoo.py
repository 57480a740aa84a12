"""The restore wing's models: denoisers and repairers, shipped in restore/weights/ or installed in
$AECODEC_MODELS; a card's `family` says which kind a model is."""

from pathlib import Path

from aecodec.registry import Registry

WEIGHTS = Path(__file__).parent / "weights"
DENOISERS = Registry("denoising model", WEIGHTS, frozenset({"denoiser"}))
REPAIRERS = Registry("repair model", WEIGHTS, frozenset({"repairer"}))

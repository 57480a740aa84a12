"""Registry of the autoencoder family, on the same verbs as the codec's (`aecodec.zoo`).

A model is `NAME.safetensors` plus `NAME.json`; the card's `family` (dense, conv or vae) names
the architecture and its `config` rebuilds it as `Model(Config.from_dict(card["config"]))`.
Shipped models live in `aecodec/family/weights/`, installed ones in the folders of
$AECODEC_MODELS (a card's family keeps codec models and autoencoders apart there); weights
anywhere else are loaded by path (`weights=`), the user's explicit choice, never by name.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from safetensors.torch import save_file
from torch import nn

from aecodec import registry
from aecodec.errors import ModelError
from aecodec.family.cards import MODELS
from aecodec.family.models import VAE, ConvAE, ConvConfig, DenseAE, DenseConfig, VAEConfig

FAMILIES = {"dense": (DenseAE, DenseConfig), "conv": (ConvAE, ConvConfig), "vae": (VAE, VAEConfig)}


@dataclass
class LoadedAE:
    name: str
    model: nn.Module
    card: dict


def available_models() -> dict[str, Path]:
    """Shipped and installed autoencoder names -> their weight files (a shipped name wins)."""
    return MODELS.available()


def family_of(model: nn.Module) -> str:
    """The registry family of a model instance: dense, conv or vae."""
    for name, (cls, _) in FAMILIES.items():
        if type(model) is cls:
            return name
    raise ModelError(f"{type(model).__name__} is not a model of the autoencoder family")


def build(family: str, config: dict) -> nn.Module:
    """A fresh model of a family from its config dict."""
    if family not in FAMILIES:
        raise ModelError(f"unknown model family '{family}' (known: {', '.join(FAMILIES)})")
    cls, config_type = FAMILIES[family]
    try:
        return cls(config_type.from_dict(config))
    except (TypeError, ValueError, RuntimeError) as error:  # unknown fields, impossible sizes
        raise ModelError(f"the card's config cannot build a model: {error}") from None


def save_model(model: nn.Module, path: str | Path, card: dict, *, half: bool = True) -> Path:
    """Write `path.safetensors` (float16 by default: half the file) and `path.json`; returns the
    weights path. The card gains the model's family, config and the stored dtype."""
    path = Path(path)
    path = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half else v.float()).detach().cpu().contiguous()
             for k, v in model.state_dict().items()}  # fmt: skip
    weights = path.parent / (path.name + ".safetensors")
    save_file(state, str(weights))
    card = {**card, "family": family_of(model), "config": model.config.to_dict(),
            "dtype": "float16" if half else "float32"}  # fmt: skip
    (path.parent / (path.name + ".json")).write_text(json.dumps(card, indent=2) + "\n")
    return weights


def load_model(name: str | None = None, *, weights: str | Path | None = None) -> LoadedAE:
    """A shipped or installed autoencoder by its registry name, or, with `weights`, the model
    stored at that path (a .safetensors file with its .json card beside it)."""
    if weights is None and name is None:
        raise ModelError("give an autoencoder's name or the path of its weights")
    path = Path(weights) if weights is not None else MODELS.find(name)
    stored = registry.read(path)
    where = path if weights is not None else f"autoencoder '{name}'"
    try:
        family = stored.card.get("family")
        if family not in FAMILIES:
            raise ModelError(f"the card names no autoencoder family (got {family!r})")
        model = build(family, stored.card["config"])
        registry.load_state(model, {k: v.float() for k, v in stored.state.items()})
    except ModelError as error:
        raise ModelError(f"cannot load {where}: {error}") from None
    model.eval()
    return LoadedAE(stored.name, model, stored.card)

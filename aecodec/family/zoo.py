"""Registry of the autoencoder family: configs, weights and cards, kept apart from the codecs.

A model is `NAME.safetensors` plus `NAME.json`; the card's `family` names the architecture and
its `config` rebuilds it as `Model(Config.from_dict(card["config"]))`. Shipped models live in
`aecodec/weights/family/`, out of sight of the codec registry's `weights/*.safetensors`.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from safetensors.torch import load_file, save_file
from torch import nn

from aecodec.errors import ModelError
from aecodec.models.conv_ae import ConvAE, ConvConfig
from aecodec.models.dense import DenseAE, DenseConfig
from aecodec.models.vae import VAE, VAEConfig

SHIPPED = Path(__file__).parent.parent / "weights" / "family"
FAMILIES = {"dense": (DenseAE, DenseConfig), "conv": (ConvAE, ConvConfig), "vae": (VAE, VAEConfig)}


@dataclass
class LoadedAE:
    name: str
    model: nn.Module
    card: dict


def family_of(model: nn.Module) -> str:
    for name, (cls, _) in FAMILIES.items():
        if type(model) is cls:
            return name
    raise ModelError(f"{type(model).__name__} is not a model of the autoencoder family")


def build(family: str, config: dict) -> nn.Module:
    """A fresh model of a family from its config dict."""
    if family not in FAMILIES:
        raise ModelError(f"unknown model family '{family}' (known: {', '.join(FAMILIES)})")
    cls, config_type = FAMILIES[family]
    return cls(config_type.from_dict(config))


def available() -> dict[str, Path]:
    """Shipped model names -> their weight files."""
    return {p.stem: p for p in sorted(SHIPPED.glob("*.safetensors"))}


def save(model: nn.Module, path: Path, card: dict | None = None, half: bool = True) -> Path:
    """Write `path.safetensors` (float16 by default: half the file) and `path.json`."""
    path = Path(path)
    path = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    path.parent.mkdir(parents=True, exist_ok=True)
    dtype = "float16" if half else "float32"
    state = {k: (v.half() if half else v.float()).detach().cpu().contiguous()
             for k, v in model.state_dict().items()}  # fmt: skip
    weights = path.parent / (path.name + ".safetensors")
    save_file(state, str(weights))
    card = {**(card or {}), "family": family_of(model), "config": model.config.to_dict(),
            "dtype": dtype}  # fmt: skip
    (path.parent / (path.name + ".json")).write_text(json.dumps(card, indent=2) + "\n")
    return weights


def load(name: str) -> LoadedAE:
    """A shipped model by name, or any model by the path of its .safetensors (or .json) file."""
    weights = available().get(name)
    if weights is None:
        path = Path(name)
        path = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
        weights = path.parent / (path.name + ".safetensors")
    card_path = weights.with_suffix(".json")
    if not weights.is_file() or not card_path.is_file():
        known = ", ".join(available()) or "none"
        raise ModelError(f"unknown model '{name}' (shipped autoencoders: {known})")
    try:
        card = json.loads(card_path.read_text())
        model = build(card["family"], card["config"])
        model.load_state_dict({k: v.float() for k, v in load_file(str(weights)).items()})
    except (KeyError, TypeError, ValueError, RuntimeError, OSError) as error:
        raise ModelError(f"cannot load model '{name}': {error}") from None
    model.eval()
    return LoadedAE(weights.stem, model, card)

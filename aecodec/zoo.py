"""Registry of named codec models: config, weights (safetensors) and model card in one place.

A model is two files side by side, `NAME.safetensors` and `NAME.json`. The card holds the family,
the config that rebuilds the architecture, and what is known of the weights (data, steps, lambda,
measured figures). Shipped models live in `aecodec/weights/`, installed ones in the folders of
$AECODEC_MODELS; weights anywhere else are loaded by path (`weights=`), the user's explicit choice.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aecodec import registry
from aecodec.errors import ModelError

if TYPE_CHECKING:
    from torch import Tensor

    from aecodec.models.hyperprior import Hyperprior, HyperpriorConfig

SHIPPED = Path(__file__).parent / "weights"
DEFAULT_MODEL = "hyperprior-sc-joint"
DEFAULT_CONFIG = "hyperprior-sc-wide"  # the default model's architecture: what `train` builds
# The registry and the names above need no torch, so listing models (`aecodec models`) reads the
# cards alone; FAMILIES and CONFIGS hold the model classes and are made on first use (`configs()`,
# `families()`; also as the module's attributes CONFIGS and FAMILIES).
MODELS = registry.Registry("codec model", SHIPPED, frozenset({"hyperprior"}))
_TABLE_PREFIXES = ("tables.z", "tables.y")


@functools.cache
def families() -> dict[str, tuple[type, type]]:
    """Family name -> (model class, config class): what a card's `family` may name."""
    from aecodec.models.hyperprior import Hyperprior, HyperpriorConfig

    return {"hyperprior": (Hyperprior, HyperpriorConfig)}


@functools.cache
def configs() -> dict[str, HyperpriorConfig]:
    """Named architectures to train: the first hyperprior, a smaller one for CPUs, tiny ones for
    tests, the same with a checkerboard context, that one over a wider range of rates (0.1-1.5
    bpp), and that one with the space-channel context (checkerboard plus channel groups)."""
    from aecodec.models.hyperprior import HyperpriorConfig

    wide = (0.0005, 0.0012, 0.0027, 0.0062, 0.0145, 0.0335, 0.078, 0.18)
    tiny = {"N": 16, "M": 24, "lambdas": (0.01, 0.1)}
    return {
        "hyperprior-vr": HyperpriorConfig(),
        "hyperprior-vr-small": HyperpriorConfig(N=64, M=96),
        "hyperprior-tiny": HyperpriorConfig(**tiny),
        "hyperprior-cb": HyperpriorConfig(context="checkerboard"),
        "hyperprior-cb-tiny": HyperpriorConfig(**tiny, context="checkerboard"),
        "hyperprior-cb-wide": HyperpriorConfig(lambdas=wide, context="checkerboard"),
        "hyperprior-sc-tiny": HyperpriorConfig(**tiny, context="space-channel"),
        "hyperprior-sc-wide": HyperpriorConfig(lambdas=wide, context="space-channel"),
    }


def __getattr__(name: str):
    if name == "FAMILIES":
        return families()
    if name == "CONFIGS":
        return configs()
    raise AttributeError(f"module 'aecodec.zoo' has no attribute '{name}'")


@dataclass
class LoadedModel:
    name: str
    model: Hyperprior
    card: dict
    weights_hash: bytes  # first 8 bytes of the SHA-256 of the weights file


def available_models() -> dict[str, Path]:
    """Shipped and installed model names -> their weight files (a shipped name wins)."""
    return MODELS.available()


def save_model(model: Hyperprior, path: Path, card: dict) -> Path:
    """Write a frozen copy as `path.safetensors` plus `path.json`; returns the weights path.

    Weights are stored in half precision (half the file); the copy is rounded to it before the
    tables are built, so the saved tables match the weights exactly as they will be loaded."""
    path = Path(path).with_suffix("")
    path.parent.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(model).cpu().eval()
    state = {k: _half(v.detach()).contiguous() for k, v in model.state_dict().items()}
    model.load_state_dict({k: _float(v) for k, v in state.items()})
    model.freeze()
    from safetensors.torch import save_file

    for prefix in _TABLE_PREFIXES:
        state.update(model.tables[prefix.split(".")[1]].state(prefix))
    weights = path.with_suffix(".safetensors")
    save_file(state, str(weights))
    card = {**card, "family": "hyperprior", "config": model.config.to_dict()}
    path.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    return weights


def architecture(
    config: str, channels: tuple[int, int] | None = None, lambdas: str | None = None
) -> HyperpriorConfig:
    """A named config, with N and M or the comma-separated lambdas replaced if given."""
    if config not in configs():
        raise ModelError(f"unknown config '{config}' (known: {', '.join(configs())})")
    result = configs()[config]
    if channels:
        result = dataclasses.replace(result, N=channels[0], M=channels[1])
    if lambdas:
        try:
            values = tuple(float(v) for v in lambdas.split(","))
        except ValueError:
            message = f"cannot read the lambdas '{lambdas}': give numbers, e.g. 0.01,0.1"
            raise ModelError(message) from None
        result = dataclasses.replace(result, lambdas=values)
    return result


def model_from_card(card: dict) -> Hyperprior:
    """A fresh model of the architecture a card names (its family and config)."""
    if card.get("family") not in families():
        raise ModelError(f"the card names an unknown model family {card.get('family')!r}")
    family, config_type = families()[card["family"]]
    try:
        return family(config_type.from_dict(card["config"]))
    except (TypeError, ValueError, RuntimeError) as error:  # unknown fields, impossible sizes
        raise ModelError(f"the card's config cannot build a model: {error}") from None


def load_model(name: str = DEFAULT_MODEL, *, weights: str | Path | None = None) -> LoadedModel:
    """A shipped or installed model by its registry name, or, with `weights`, the model stored
    at that path (a .safetensors file with its .json card beside it)."""
    path = Path(weights) if weights is not None else None
    if path is None:
        path = MODELS.find(name)
    stored = registry.read(path)
    where = path if weights is not None else f"model '{name}'"
    from aecodec.entropy.tables import Tables

    try:
        model = model_from_card(stored.card)
        state = dict(stored.state)
        tables = {p.split(".")[1]: Tables.from_state(state, p) for p in _TABLE_PREFIXES}
        for key in [k for k in state if k.startswith("tables.")]:
            del state[key]
        registry.load_state(model, {k: _float(v) for k, v in state.items()})
        model.freeze_exact()
    except ModelError as error:
        raise ModelError(f"cannot load {where}: {error}") from None
    except (KeyError, ValueError, RuntimeError) as error:  # tables missing, weights too large
        raise ModelError(f"cannot load {where}: {registry.first_line(error)}") from None
    model.tables = tables
    model.eval()
    return LoadedModel(stored.name, model, stored.card, stored.weights_hash)


def load_named_or_path(spec: str | Path) -> LoadedModel:
    """A model the user gave on the command line (`--init`, `aec:MODEL`): a shipped or installed
    name, else the path of its weights. Never for names read from a file."""
    name, weights = MODELS.name_or_path(spec)
    return load_model(name or DEFAULT_MODEL, weights=weights)


def _half(t: Tensor) -> Tensor:
    return t.half() if t.is_floating_point() else t  # integer buffers (a channel order) stay


def _float(t: Tensor) -> Tensor:
    return t.float() if t.is_floating_point() else t

"""Named models on disk: a weights file (safetensors) and its card (JSON) side by side.

A model is found by its registry name only: a short pattern of letters, digits, '.', '_' and '-'
(`bitstream.MODEL_NAME`), looked up among the files of known folders (the package's own, then
those listed in $AECODEC_MODELS), never joined onto a path. So a file that names a model can only
pick among the models installed here; weights from anywhere else come in by an explicit path,
which is the user's choice (`--weights PATH`), never the file's. Every way reading a model can
fail, from a missing card to weights of the wrong shapes, is one ModelError sentence.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aecodec.bitstream import MODEL_NAME
from aecodec.errors import ModelError

if TYPE_CHECKING:  # hints only: torch loads in read(), so listing cards (`aecodec models`)
    from torch import Tensor, nn  # never pays the second or two its import takes

INSTALLED_ENV = "AECODEC_MODELS"  # folders of installed models, separated like PATH


@dataclass(frozen=True)
class StoredModel:
    """A model's files as read from disk: its card, its tensors and the raw weights bytes."""

    name: str
    card: dict
    state: dict[str, Tensor]
    raw: bytes  # the weights file, for the hash that ties coded files to these exact weights

    @property
    def weights_hash(self) -> bytes:
        """The first 8 bytes of the SHA-256 of the weights file, as a coded file names them."""
        return hashlib.sha256(self.raw).digest()[:8]


@dataclass(frozen=True)
class Registry:
    """The models of one kind (codec models, autoencoders, ...): shipped in a package folder, or
    installed in the folders of $AECODEC_MODELS, where a card's `family` says whose it is. Each
    kind's zoo offers the same verbs on top: available_models, load_model, save_model."""

    kind: str  # how messages name a model of this kind: "codec model", "autoencoder"
    shipped: Path
    families: frozenset[str]

    def folders(self) -> list[Path]:
        return [self.shipped, *installed_folders()]

    def available(self) -> dict[str, Path]:
        """Registry names -> weights files; a shipped name wins, then the first folder's."""
        return {name: path for name, (path, _) in self._scan().items()}

    def cards(self) -> dict[str, dict]:
        """Registry names -> cards, without reading any weights (for listings)."""
        return {name: card for name, (_, card) in self._scan().items()}

    def find(self, name: str) -> Path:
        """The weights file of the model called `name`, or ModelError saying what is installed."""
        if not isinstance(name, str) or not MODEL_NAME.fullmatch(name):
            raise ModelError(
                f"{name!r} is not a model name (letters, digits, '.', '_' and '-', at most 64); "
                "give weights from a file with --weights PATH"
            )
        available = self.available()
        if name not in available:
            known = ", ".join(available) or "none"
            raise ModelError(
                f"{self.kind} '{name}' is not installed (installed: {known}); "
                f"give its weights with --weights PATH or put them in ${INSTALLED_ENV}"
            )
        return available[name]

    def name_or_path(self, spec: str | Path) -> tuple[str | None, str | Path | None]:
        """What a user gave where either fits (`--init`, `aec:MODEL`): (name, None) for an
        installed model, else (None, spec) as the path of weights. Never for a file's names."""
        return (spec, None) if spec in self.available() else (None, spec)

    def _scan(self) -> dict[str, tuple[Path, dict]]:
        """Name -> (weights, card) of each model of this kind, each card read once; a card that
        cannot be read lists nothing (loading it by path says why)."""
        found: dict[str, tuple[Path, dict]] = {}
        for folder in self.folders():
            for path in sorted(folder.glob("*.safetensors")) if folder.is_dir() else []:
                if not MODEL_NAME.fullmatch(path.stem) or path.stem in found:
                    continue
                try:
                    card = _read_card(path.with_suffix(".json"))
                except ModelError:
                    continue
                if card.get("family") in self.families:
                    found[path.stem] = (path, card)
        return found


def installed_folders() -> list[Path]:
    """The folders named by $AECODEC_MODELS, in order."""
    return [Path(p) for p in os.environ.get(INSTALLED_ENV, "").split(os.pathsep) if p]


def weights_key(weights: str | Path | None) -> str | None:
    """A weights path as a cache key: the same file however it was written."""
    return None if weights is None else str(Path(weights).resolve())


def read(weights: str | Path, numpy: bool = False) -> StoredModel:
    """Card, tensors and raw bytes of `weights` (a .safetensors file, its .json card beside it);
    the tensors as numpy arrays with `numpy` (the decoder that needs no torch)."""
    weights = Path(weights)
    if weights.suffix != ".safetensors":
        weights = weights.with_name(weights.name + ".safetensors")
    card_path = weights.with_suffix(".json")
    for path in (weights, card_path):
        if not path.is_file():
            raise ModelError(f"cannot load model from {weights}: {path} does not exist")
    card = _read_card(card_path)
    from safetensors import SafetensorError

    if numpy:
        from safetensors.numpy import load
    else:
        from safetensors.torch import load

    try:
        raw = weights.read_bytes()
        state = load(raw)
    except OSError as error:
        raise ModelError(f"cannot read {weights}: {first_line(error)}") from None
    except SafetensorError as error:
        raise ModelError(
            f"{weights} is not a valid safetensors file: {first_line(error)}"
        ) from None
    return StoredModel(weights.stem, card, state, raw)


def load_state(model: nn.Module, state: dict[str, Tensor]) -> None:
    """Load `state` into `model`, or one ModelError line saying how they disagree (PyTorch's own
    message lists every tensor over many lines)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    reshaped = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or reshaped:
        problems = []
        for what, keys in (("missing", missing), ("unexpected", unexpected)):
            if keys:
                problems.append(f"{len(keys)} {what} (first {keys[0]})")
        if reshaped:
            k = reshaped[0]
            shapes = f"{tuple(state[k].shape)} instead of {tuple(expected[k].shape)}"
            problems.append(f"{len(reshaped)} of other shapes (first {k}: {shapes})")
        raise ModelError(f"the weights do not fit the card's architecture: {'; '.join(problems)}")
    model.load_state_dict(state)


def _read_card(path: Path) -> dict:
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"cannot read {path}: {first_line(error)}") from None
    if not isinstance(card, dict) or not isinstance(card.get("config"), dict):
        raise ModelError(f"{path} is not a model card (no 'config' object)")
    return card


def first_line(error: BaseException) -> str:
    """The first line of an error's message: a model's message may run over many lines."""
    lines = str(getattr(error, "strerror", None) or error).strip().splitlines()
    return lines[0] if lines else type(error).__name__

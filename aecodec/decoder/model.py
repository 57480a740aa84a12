"""A codec model as the numpy decoder needs it: the weights as numpy arrays, the tables, and
what is derived from them (the exact hyper-synthesis, the context, the integer synthesis), made
once per process."""

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aecodec import registry
from aecodec.decoder import latent
from aecodec.decoder.exact import ExactNet
from aecodec.decoder.synthesis import NumpySynthesis
from aecodec.errors import ModelError
from aecodec.zoo import MODELS

CONTEXTS = {
    "none": lambda state, M: latent.NoContext(),
    "checkerboard": latent.CheckerboardContext,
    "space-channel": latent.SpaceChannelContext,
}


@dataclass
class DecoderModel:
    name: str
    weights_hash: bytes
    N: int
    inverse_gains: np.ndarray  # (levels, M)
    tables: dict[str, latent.Tables]
    hyper_synthesis: ExactNet
    context: object  # latent.NoContext, CheckerboardContext or SpaceChannelContext
    synthesis: NumpySynthesis


@functools.lru_cache(maxsize=4)
def load(name: str, weights: str | None = None) -> DecoderModel:
    """A shipped or installed model by name, or the model stored at `weights`."""
    path = Path(weights) if weights is not None else MODELS.find(name)
    stored = registry.read(path, numpy=True)
    where = path if weights is not None else f"model '{name}'"
    try:
        if stored.card.get("family") != "hyperprior":
            raise ModelError(
                f"the card names an unknown model family {stored.card.get('family')!r}"
            )
        config = stored.card["config"]
        state = {k: v.astype(np.float32) if v.dtype.kind == "f" else v
                 for k, v in stored.state.items()}  # fmt: skip
        tables = {
            key: latent.Tables(*(state[f"tables.{key}.{part}"]
                                 for part in ("counts", "offsets", "lengths")))
            for key in ("z", "y")
        }  # fmt: skip
        layers: dict[int, dict[str, np.ndarray]] = {}  # g_s.{layer}.{parameter}
        for key, value in state.items():
            if key.startswith("g_s."):
                _, layer, parameter = key.split(".")
                layers.setdefault(int(layer), {})[parameter] = value
        model = DecoderModel(
            stored.name,
            stored.weights_hash,
            int(config["N"]),
            state["inverse_gain"],
            tables,
            ExactNet(state, latent.hyper_synthesis_plan()),
            CONTEXTS[config.get("context", "none")](state, int(config["M"])),
            NumpySynthesis([layers[i] for i in sorted(layers)]),
        )
    except ModelError as error:
        raise ModelError(f"cannot load {where}: {error}") from None
    except (KeyError, ValueError, TypeError, IndexError) as error:
        raise ModelError(f"cannot load {where}: {registry.first_line(error)}") from None
    return model

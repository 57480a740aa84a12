"""A byte-level predictive model for text: a window MLP over the last `context` bytes.

Each of the last `context` bytes is embedded, the embeddings are concatenated and two ReLU layers
map them to 256 logits for the next byte: Bengio et al. (2003), "A Neural Probabilistic Language
Model", on bytes instead of words. It was chosen for the CPU: training is one large matrix product
per batch (no recurrence), and at coding time the first layer is a sum of table rows, because a
linear layer over concatenated embeddings is a sum over positions j of W1_j @ E[x_j], which takes
one table of 256 rows per position.

Two faces, as the image codec's models have: `TextModel.forward` gives float logits for training;
`ExactTextModel` gives the coder's integer probabilities in integer-valued floats, as
aecodec/entropy/integer.py does: every operand and partial sum is an integer that the float type
holds exactly (checked when the model is frozen), so the result is the same whatever the BLAS,
its blocking or thread count.
The softmax takes its exponentials from an integer table built with `decimal` (correctly rounded).
"""

import dataclasses
import decimal
import functools
import hashlib
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load as load_numpy
from safetensors.torch import save as save_torch
from torch import Tensor, nn

from aecodec.errors import ModelError

FA, FW = 8, 12  # fractional bits of activations (and logits) and of weights
ACT_MAX = 2.0**20
EXACT_LIMIT = 2.0**53
PROB_BITS = 16  # the softmax's integer probabilities: round(2**16 * exp(-logit gap))
EXP_RANGE = 12 << FA  # logit gaps past 12 nats get probability 0 (the mixer clamps later)
PAD = 0  # the byte that stands for "before the start" of a lane


@dataclasses.dataclass(frozen=True)
class TextModelConfig:
    context: int = 32  # bytes seen before the one predicted
    embed: int = 16  # width of each byte's embedding
    hidden: int = 1024
    hidden2: int = 256


class TextModel(nn.Module):
    """The float model: (N, context) byte windows, oldest first -> (N, 256) logits."""

    def __init__(self, config: TextModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(256, config.embed)
        self.fc1 = nn.Linear(config.context * config.embed, config.hidden)
        self.fc2 = nn.Linear(config.hidden, config.hidden2)
        self.head = nn.Linear(config.hidden2, 256)
        nn.init.normal_(self.embedding.weight, std=0.5)

    def forward(self, windows: Tensor) -> Tensor:
        x = self.embedding(windows.long()).flatten(1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.head(x)


def card_for(config: TextModelConfig, **extra) -> dict:
    return {"family": "window-mlp", "architecture": "window-mlp",
            "config": dataclasses.asdict(config), **extra}  # fmt: skip


def save(model: TextModel, path: Path, card: dict) -> None:
    """`path`.safetensors (float32 weights) and `path`.json (the card, config included)."""
    path = Path(path)
    tensors = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    path.with_suffix(".safetensors").write_bytes(save_torch(tensors))
    card = {**card, "config": dataclasses.asdict(model.config)}
    path.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")


def load(path: Path) -> tuple[TextModel, dict, bytes]:
    """The float model, its card and the weights hash (first 8 bytes of the file's SHA-256)."""
    path = Path(path)
    try:
        raw = path.with_suffix(".safetensors").read_bytes()
        card = json.loads(path.with_suffix(".json").read_text())
        model = TextModel(TextModelConfig(**card["config"]))
        state = {k: torch.from_numpy(v.copy()) for k, v in load_numpy(raw).items()}
        model.load_state_dict(state)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
        raise ModelError(f"cannot load the text model {path}: {error}") from error
    return model.eval(), card, hashlib.sha256(raw).digest()[:8]


class ExactTextModel:
    """The coding face: integer probabilities of the next byte, identical on every machine.

    The first layer is an embedding bag: row j * 256 + x_j of `bag` is floor(W1_j @ E[x_j] /
    2**FW), integers below 2**24 / context, so their float32 sums are exact in any order. The
    other layers are float64 products of integers, exact while partial sums stay below 2**53."""

    def __init__(self, model: TextModel) -> None:
        config = self.config = model.config
        emb = _fixed(model.embedding.weight, FA)  # (256, e)
        w1 = _fixed(model.fc1.weight, FW).reshape(config.hidden, config.context, config.embed)
        _check(config.embed, w1, emb, 0.0)
        tables = np.floor(np.einsum("hje,be->jbh", w1, emb, optimize=False) * 2.0**-FW)
        b1 = np.round(model.fc1.bias.detach().double().numpy() * 2.0**FA)
        if config.context * np.abs(tables).max() + np.abs(b1).max() >= 2.0**24:
            raise ModelError("text model embeddings too large for exact float32 sums")
        self.bag = torch.from_numpy(tables.reshape(-1, config.hidden).astype(np.float32))
        self.b1 = torch.from_numpy(b1.astype(np.float32))
        w2, b2 = _fixed(model.fc2.weight, FW), _fixed(model.fc2.bias, FA + FW)
        w3, b3 = _fixed(model.head.weight, FW), _fixed(model.head.bias, FA + FW)
        _check(config.hidden, w2, None, b2)
        _check(config.hidden2, w3, None, b3)
        self.w2, self.b2 = torch.from_numpy(w2.T.copy()), torch.from_numpy(b2)
        self.w3, self.b3 = torch.from_numpy(w3.T.copy()), torch.from_numpy(b3)
        self._shift = torch.arange(config.context) * 256

    @torch.no_grad()
    def probabilities(self, windows: np.ndarray) -> np.ndarray:
        """(N, context) uint8 windows -> (N, 256) int64 weights, round(2**16 * exp(-gap))."""
        rows = torch.from_numpy(windows).long() + self._shift
        acc = F.embedding_bag(rows, self.bag, mode="sum") + self.b1
        h = acc.clamp_(0, ACT_MAX).double()
        h = _requant(h @ self.w2 + self.b2).clamp_min_(0)
        logits = _requant(h @ self.w3 + self.b3)
        gap = (logits.max(dim=1, keepdim=True).values - logits).clamp_(max=EXP_RANGE).long()
        return _exp_tensor()[gap].numpy()


def _fixed(t: Tensor, bits: int) -> np.ndarray:
    return np.round(t.detach().double().cpu().numpy() * 2.0**bits)


def _requant(acc: Tensor) -> Tensor:
    return torch.floor_(acc * 2.0**-FW).clamp_(-ACT_MAX, ACT_MAX)


def _check(fan_in: int, w: np.ndarray, a: np.ndarray | None, b) -> None:
    a_max = ACT_MAX if a is None else np.abs(a).max()
    if fan_in * np.abs(w).max() * a_max + np.abs(b).max() >= EXACT_LIMIT:
        raise ModelError("text model weights too large for exact float64 sums")


@functools.cache
def _exp_tensor() -> Tensor:
    return torch.from_numpy(exp_table())


@functools.cache
def exp_table() -> np.ndarray:
    """round(2**PROB_BITS * exp(-i / 2**FA)) for i in 0..EXP_RANGE, the last entry 0: computed
    in decimal arithmetic, which rounds correctly, so every machine builds the same table."""
    ctx = decimal.Context(prec=40)
    scale = decimal.Decimal(1 << PROB_BITS)
    step = decimal.Decimal(-1) / (1 << FA)
    values = [int((ctx.exp(step * i) * scale).to_integral_value()) for i in range(EXP_RANGE)]
    return np.array([*values, 0], dtype=np.int64)

"""A byte-level predictive model for text: a window MLP over the last `context` bytes.

Each of the last `context` bytes is embedded, the embeddings are concatenated and two ReLU layers
map them to 256 logits for the next byte: Bengio et al. (2003), "A Neural Probabilistic Language
Model", on bytes instead of words. It was chosen for the CPU: training is one large matrix product
per batch (no recurrence), and at coding time the first layer is a sum of table rows, because a
linear layer over concatenated embeddings is a sum over positions j of W1_j @ E[x_j], which takes
one table of 256 rows per position.

Two faces, as the image codec's models have: `TextModel.forward` gives float logits for training;
`ExactTextModel` gives the coder's integer probabilities, every operand and partial sum an integer
that its type holds exactly (checked when the model is frozen), so the result is the same whatever
the BLAS, its blocking or thread count. The embedding bag sums integers in float32 below 2**24; the
two dense layers multiply 7-bit digits of their integer operands in int8 with int32 sums
(`torch._int_mm`: the product itself about 6 times as fast as float64 products of the same
integers, the whole layer about twice; float64 products give the same numbers and stand in where
torch lacks it).
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
ACT_MAX_INT = 1 << 20
DIGIT_BITS = 7  # IntLinear's radix-128 digits
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
    other layers are integer products (IntLinear), exact while sums stay below 2**53."""

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
        self.fc2, self.head = IntLinear(w2.T, b2), IntLinear(w3.T, b3)
        self._shift = torch.arange(config.context) * 256

    @torch.no_grad()
    def probabilities(self, windows: np.ndarray) -> np.ndarray:
        """(N, context) uint8 windows -> (N, 256) int64 weights, round(2**16 * exp(-gap))."""
        rows = torch.from_numpy(windows).long() + self._shift
        acc = F.embedding_bag(rows, self.bag, mode="sum").add_(self.b1).clamp_(0, ACT_MAX)
        h = acc.int().numpy()  # integers below 2**24: exact
        h = _requant(self.fc2(h))
        np.maximum(h, 0, out=h)
        logits = _requant(self.head(h))
        gap = np.minimum(logits.max(axis=1, keepdims=True) - logits, EXP_RANGE)
        return exp_table()[gap]


class IntLinear:
    """x @ w + b for integer x in [0, ACT_MAX] and integer w, b, exactly, in int8 products.

    x and w are cut into radix-128 digits: x's in 0..127, w's in -64..63 (balanced), so every
    product of two digits fits int16 even paired with a neighbour and shifted by 128 (the u8 x s8
    instructions some CPUs use), and a sum of fan_in of them fits int32. One torch._int_mm of all
    of x's digits (stacked as rows) by all of w's (side by side) gives every digit product; their
    sum, shifted into place, is the exact result in int64 (below 2**53, as _check made sure).
    Torch's int64 shifts are slow, hence numpy around the product."""

    def __init__(self, w: np.ndarray, b: np.ndarray) -> None:
        fan_in, self.width = w.shape
        if fan_in * 127 * 64 >= 2**31:
            raise ModelError("text model layer too wide for exact int32 sums")
        digits, rest = [], w.astype(np.int64)
        while not digits or rest.any():
            digit = ((rest + 64) & 127) - 64
            digits.append(digit)
            rest = (rest - digit) >> DIGIT_BITS
        self.digits = torch.from_numpy(np.concatenate(digits, axis=1).astype(np.int8))
        self.w = w.astype(np.float64)  # for a torch without _int_mm
        self.b = b.astype(np.int64)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if not hasattr(torch, "_int_mm"):
            return (x @ self.w).astype(np.int64) + self.b  # exact: below 2**53
        n, w_digits = len(x), self.digits.shape[1] // self.width
        top = int(x.max()) if n else 0
        x_digits = max(1, -(-top.bit_length() // DIGIT_BITS))
        parts = np.empty((x_digits, *x.shape), dtype=np.int8)
        for i in range(x_digits):
            np.bitwise_and(x >> (DIGIT_BITS * i), 127, out=parts[i], casting="unsafe")
        parts = torch.from_numpy(parts.reshape(-1, x.shape[1]))
        products = torch._int_mm(parts, self.digits).numpy()
        products = products.reshape(x_digits, n, w_digits, self.width)
        out = np.broadcast_to(self.b, (n, self.width)).copy()
        for i in range(x_digits):
            for j in range(w_digits):
                out += products[i, :, j].astype(np.int64) << (DIGIT_BITS * (i + j))
        return out


def _fixed(t: Tensor, bits: int) -> np.ndarray:
    return np.round(t.detach().double().cpu().numpy() * 2.0**bits)


def _requant(acc: np.ndarray) -> np.ndarray:
    """floor(acc / 2**FW), clamped (an arithmetic shift floors)."""
    acc >>= FW
    return np.minimum(np.maximum(acc, -ACT_MAX_INT, out=acc), ACT_MAX_INT, out=acc)


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

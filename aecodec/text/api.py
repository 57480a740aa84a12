"""Learned lossless text compression: `compress(data) -> bytes`, `decompress(data) -> bytes`.

A file is cut into blocks of BLOCK_SIZE bytes, coded independently (bounded memory, and blocks
could go to separate processes); a block that the model would not shrink is stored. The shipped
model is the default; `load_model` gives a shipped or installed model by registry name (the
only way a file's header can pick one: never a path), or with `weights=` the model stored at a
path (the user's choice); `TextCodec(model, name)` wraps a model made in memory (tests use tiny
untrained ones).
"""

import dataclasses
import functools
import hashlib
import io
from pathlib import Path

from safetensors.torch import save as save_torch

from aecodec.errors import ModelError, TextFormatError
from aecodec.registry import Registry
from aecodec.text import format as fmt
from aecodec.text.coding import decode_block, encode_block, lane_count
from aecodec.text.model import ExactTextModel, TextModel, load

WEIGHTS = Path(__file__).parent / "weights"
MODELS = Registry("text model", WEIGHTS, frozenset({"window-mlp"}))
DEFAULT_MODEL = "text-mlp-v1"
BLOCK_SIZE = 1 << 20
NO_HASH = bytes(8)


@dataclasses.dataclass(frozen=True)
class TextCodec:
    """A model ready to code: its name and weights hash (written to each file), exact face."""

    name: str
    weights_hash: bytes
    exact: ExactTextModel
    card: dict

    @classmethod
    def from_model(cls, model: TextModel, name: str) -> "TextCodec":
        state = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
        digest = hashlib.sha256(save_torch(state)).digest()[:8]
        return cls(name, digest, ExactTextModel(model.eval()), {})


def available_models() -> list[str]:
    """Shipped and installed ($AECODEC_MODELS) text models."""
    return list(MODELS.available())


@functools.cache
def load_model(name: str = DEFAULT_MODEL, *, weights: str | Path | None = None) -> TextCodec:
    """A shipped or installed text model by registry name, or with `weights` the model stored at
    that path (PATH.safetensors with PATH.json beside it)."""
    path = Path(weights) if weights is not None else MODELS.find(name)
    if path.suffix != ".safetensors":
        path = path.with_name(path.name + ".safetensors")
    model, card, digest = load(path)
    return TextCodec(path.stem, digest, ExactTextModel(model), card)


def compress(data: bytes, codec: TextCodec | str | None = None) -> bytes:
    """The bytes of an .aet file holding `data`, never more than a stored copy plus headers."""
    codec = _codec(codec)
    blocks = [
        _compress_block(data[i : i + BLOCK_SIZE], codec) for i in range(0, len(data), BLOCK_SIZE)
    ]
    coded = any(b.kind == fmt.CODED for b in blocks)
    header = fmt.Header(
        model=codec.name if coded else "",
        weights_hash=codec.weights_hash if coded else NO_HASH,
        length=len(data),
        crc=fmt.crc32(data),
        block_size=BLOCK_SIZE,
    )
    return fmt.pack(header, blocks)


def decompress(data: bytes, codec: TextCodec | str | None = None) -> bytes:
    """The original bytes of an .aet file; TextFormatError if it is corrupted or truncated,
    ModelError if it needs a model that is not here or whose weights differ."""
    header, blocks = fmt.unpack(data)
    if any(b.kind == fmt.CODED for b in blocks):
        codec = _codec(codec if codec is not None else header.model)
        if codec.name != header.model or codec.weights_hash != header.weights_hash:
            raise ModelError(
                f"this file needs text model {header.model!r} with weights "
                f"{header.weights_hash.hex()}; {codec.name!r} has {codec.weights_hash.hex()}"
            )
    out = io.BytesIO()
    for block, length in zip(blocks, header.block_lengths(), strict=True):
        if block.kind == fmt.STORED:
            out.write(block.payload)
            continue
        try:
            out.write(decode_block(block.payload, length, block.lanes, codec.exact))
        except (ValueError, RuntimeError, AssertionError) as error:  # a corrupted stream
            raise TextFormatError("corrupted .aet file (a coded block does not decode)") from error
    result = out.getvalue()
    if fmt.crc32(result) != header.crc:
        raise TextFormatError("corrupted .aet file (the checksum of the decoded text differs)")
    return result


def info(data: bytes) -> dict:
    """What the header says, and the size of each block (the CLI's `info`)."""
    header, blocks = fmt.unpack(data)
    return {
        "model": header.model or "(stored)",
        "weights_hash": header.weights_hash.hex(),
        "length": header.length,
        "crc32": f"{header.crc:08x}",
        "block_size": header.block_size,
        "blocks": [
            {"kind": "coded" if b.kind else "stored", "lanes": b.lanes, "bytes": len(b.payload)}
            for b in blocks
        ],
        "bits_per_byte": 8 * len(data) / header.length if header.length else 0.0,
    }


def _codec(codec: TextCodec | str | None) -> TextCodec:
    if isinstance(codec, TextCodec):
        return codec
    return load_model(codec or DEFAULT_MODEL)


def _compress_block(block: bytes, codec: TextCodec) -> fmt.Block:
    lanes = lane_count(len(block))
    payload = encode_block(block, lanes, codec.exact)
    if len(payload) >= len(block):
        return fmt.Block(fmt.STORED, 0, block)
    return fmt.Block(fmt.CODED, lanes, payload)

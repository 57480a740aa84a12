"""Learned lossless text compression: `compress(data) -> bytes`, `decompress(data) -> bytes`.

A file is cut into blocks of BLOCK_SIZE bytes, coded independently (bounded memory, and blocks
could go to separate processes); a block that the model would not shrink is stored. The shipped
model is the default; `load_model` gives a shipped or installed model by registry name (the
only way a file's header can pick one: never a path), or with `weights=` the model stored at a
path (the user's choice); `TextCodec(model, name)` wraps a model made in memory (tests use tiny
untrained ones).
"""

import collections
import dataclasses
import functools
import hashlib
import io
import itertools
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import BinaryIO

import torch
from safetensors.torch import save as save_torch

from aecodec.errors import ModelError, TextFormatError
from aecodec.text import format as fmt
from aecodec.text.cards import MODELS, WEIGHTS  # noqa: F401 (the wing's registry)
from aecodec.text.coding import decode_block, encode_block, lane_count
from aecodec.text.model import ExactTextModel, TextModel, load

DEFAULT_MODEL = "text-mlp-v2"
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


def compress(data: bytes, codec: TextCodec | str | None = None, *, workers: int = 1) -> bytes:
    """The bytes of an .aet file holding `data`, never more than a stored copy plus headers."""
    out = io.BytesIO()
    compress_stream(io.BytesIO(data), out, codec, workers=workers)
    return out.getvalue()


def decompress(data: bytes, codec: TextCodec | str | None = None, *, workers: int = 1) -> bytes:
    """The original bytes of an .aet file; TextFormatError if it is corrupted or truncated,
    ModelError if it needs a model that is not here or whose weights differ."""
    out = io.BytesIO()
    decompress_stream(io.BytesIO(data), out, codec, workers=workers)
    return out.getvalue()


def compress_stream(
    source: BinaryIO, target: BinaryIO, codec: TextCodec | str | None = None,
    *, workers: int | None = None,
) -> int:  # fmt: skip
    """Read `source` to its end and write the .aet file to `target`, one block at a time
    (memory bounded whatever the length); blocks go to `workers` processes (default: one per
    core) when there are two or more. The file is the same for any number of workers. Returns
    the number of bytes read."""
    codec = _codec(codec)
    writer = fmt.Writer(target, codec.name, codec.weights_hash, BLOCK_SIZE)
    # The lanes are chosen here, not in a worker: the file must not depend on where it is coded.
    blocks = _read_blocks(source, BLOCK_SIZE)
    jobs = ((_compress_block, (block, lane_count(len(block))), codec) for block in blocks)
    for block, original in _ordered(jobs, workers):
        writer.block(block, original)
    writer.end()
    return writer.length


def decompress_stream(
    source: BinaryIO, target: BinaryIO, codec: TextCodec | str | None = None,
    *, workers: int | None = None,
) -> int:  # fmt: skip
    """Read an .aet file from `source` and write the original to `target` block by block;
    TextFormatError or ModelError as decompress (then `target` holds a part of the original:
    write to a temporary file). Returns the number of bytes written."""
    reader = fmt.Reader(source)
    models: list[TextCodec] = []  # the codec, checked against the file, once a block needs it

    def jobs() -> Iterator[tuple]:
        for block in reader.blocks():
            if block.kind == fmt.CODED and not models:
                models.append(_file_codec(reader.header, codec))
            yield _decompress_block, (block, reader.header.version), models[0] if models else None

    crc, length = 0, 0
    for original in _ordered(jobs(), workers):
        crc, length = fmt.crc32(original, crc), length + len(original)
        target.write(original)
    if crc != reader.header.crc:
        raise TextFormatError("corrupted .aet file (the checksum of the decoded text differs)")
    return length


def info(data: bytes) -> dict:
    """What the header says, and the size of each block (the CLI's `info`)."""
    header, blocks = fmt.unpack(data)
    coded = any(b.kind == fmt.CODED for b in blocks)
    return {
        "version": header.version,
        "model": header.model if coded else "(stored)",
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


def _read_blocks(source: BinaryIO, size: int) -> Iterator[bytes]:
    """Blocks of exactly `size` bytes (the last one shorter) however the source delivers them:
    a pipe's short reads must not move the block boundaries, or the file would change."""
    while True:
        block = source.read(size)
        while block and len(block) < size and (more := source.read(size - len(block))):
            block += more
        if not block:
            return
        yield block


def _file_codec(header: fmt.Header, codec: TextCodec | str | None) -> TextCodec:
    """The codec a file's coded blocks need: the one given, else the one its header names."""
    codec = _codec(codec if codec is not None else header.model)
    if codec.name != header.model or codec.weights_hash != header.weights_hash:
        raise ModelError(
            f"this file needs text model {header.model!r} with weights "
            f"{header.weights_hash.hex()}; {codec.name!r} has {codec.weights_hash.hex()}"
        )
    return codec


def _compress_block(job: tuple[bytes, int], codec: TextCodec) -> tuple[fmt.Block, bytes]:
    block, lanes = job
    payload = encode_block(block, lanes, codec.exact)
    if payload is None:  # the model would not shrink it
        return fmt.Block(fmt.STORED, 0, block, len(block)), block
    return fmt.Block(fmt.CODED, lanes, payload, len(block)), block


def _decompress_block(job: tuple[fmt.Block, int], codec: TextCodec | None) -> bytes:
    block, version = job
    if block.kind == fmt.STORED:
        return block.payload
    try:
        return decode_block(block.payload, block.length, block.lanes, codec.exact, version)
    except (ValueError, RuntimeError, AssertionError) as error:  # a corrupted stream
        raise TextFormatError("corrupted .aet file (a coded block does not decode)") from error


def _ordered(jobs: Iterator[tuple], workers: int | None) -> Iterator:
    """function(item, codec) for each job (function, item, codec), in order. With two jobs or
    more and more than one worker, in worker processes (spawned: a fork would copy torch's
    thread pools), at most two per worker in flight: memory stays bounded."""
    jobs = iter(jobs)
    first = list(itertools.islice(jobs, 2))
    workers = os.cpu_count() or 1 if workers is None else workers
    if workers <= 1 or len(first) < 2:
        for function, item, codec in itertools.chain(first, jobs):
            yield function(item, codec)
        return
    # The model travels to each worker once, when it starts (a pickled model is tens of MB).
    model = next((codec for _, _, codec in first if codec is not None), None)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(model,)
    ) as pool:
        pending: collections.deque[Future] = collections.deque()
        for function, item, codec in itertools.chain(first, jobs):
            shipped = None if codec is model else codec
            pending.append(pool.submit(_in_worker, function, item, shipped, codec is model))
            while len(pending) > 2 * workers or (pending and pending[0].done()):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


_WORKER_MODEL: list = [None]  # a worker process's codec, from _start_worker


def _start_worker(codec: TextCodec | None) -> None:
    torch.set_num_threads(1)  # the workers share the cores
    _WORKER_MODEL[0] = codec


def _in_worker(function, item, codec: TextCodec | None, the_workers: bool):
    return function(item, _WORKER_MODEL[0] if the_workers else codec)

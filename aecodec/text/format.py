"""The .aet container: header, then blocks, each coded or stored (pure bytes, no torch).

Version 3, written from a stream (nothing in it needs the input's length in advance):

    magic "AET" | version u8 = 3 | model name: u8 length + ASCII | weights hash 8 bytes
    | block size u32 | CRC-32 of the header so far u32
    | per block: kind u8 (0 stored, 1 coded) | lanes u16 | length u32 | payload length u32
      | payload
    | end: kind u8 = 255 | original length u64 | CRC-32 of the original u32
    | CRC-32 of everything before it u32

Version 2 (read only) is laid out the same; its coded blocks are constriction's range coder's
32-bit words (coding.py). Version 1 (read only) had the original length and CRC in the header
instead of an end record, and no length per block (each followed from the header). All integers
little-endian. A file ends with its own CRC-32 (a coded stream's last bytes have slack bits
that decoding never reads: without it a flip there would go unnoticed). See docs/text-format.md.
"""

import dataclasses
import io
import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from aecodec.errors import TextFormatError

MAGIC = b"AET"
VERSION = 3
STORED, CODED, END = 0, 1, 255
_FIXED_V1 = struct.Struct("<QII")  # original length, CRC-32, block size
_BLOCK_V1 = struct.Struct("<BHI")  # kind, lanes, payload length
_BLOCK = struct.Struct("<BHII")  # kind, lanes, length, payload length
_END = struct.Struct("<QI")  # original length, CRC-32 of the original
_U32 = struct.Struct("<I")


@dataclasses.dataclass(frozen=True)
class Block:
    kind: int
    lanes: int
    payload: bytes
    length: int = 0  # bytes of the original it holds


@dataclasses.dataclass(frozen=True)
class Header:
    model: str  # "" when every block is stored (version 1 only)
    weights_hash: bytes
    length: int  # of the original; from the end record from version 2, -1 until it is read
    crc: int
    block_size: int
    version: int = VERSION


def crc32(data: bytes, crc: int = 0) -> int:
    return zlib.crc32(data, crc) & 0xFFFFFFFF


class Writer:
    """Writes a version 3 file to `target` block by block, keeping the running CRCs."""

    def __init__(self, target: BinaryIO, model: str, weights_hash: bytes, block_size: int):
        name = model.encode("ascii")
        if len(name) > 255 or len(weights_hash) != 8:
            raise ValueError("a model name of at most 255 ASCII bytes and an 8-byte hash")
        self.target, self.length, self.crc, self.file_crc = target, 0, 0, 0
        head = MAGIC + bytes([VERSION, len(name)]) + name + weights_hash + _U32.pack(block_size)
        self._write(head + _U32.pack(crc32(head)))

    def block(self, block: Block, original: bytes) -> None:
        self.length += len(original)
        self.crc = crc32(original, self.crc)
        head = _BLOCK.pack(block.kind, block.lanes, len(original), len(block.payload))
        self._write(head)
        self._write(block.payload)

    def end(self) -> None:
        self._write(bytes([END]) + _END.pack(self.length, self.crc))
        self.target.write(_U32.pack(self.file_crc))

    def _write(self, data: bytes) -> None:
        self.file_crc = crc32(data, self.file_crc)
        self.target.write(data)


class Reader:
    """Reads a file of either version from `source`: the header at once, then `blocks()`
    yields each block checked for structure, and at the end checks the file's own CRC (after
    which `header` holds the original's length and CRC)."""

    def __init__(self, source: BinaryIO) -> None:
        self.source, self.file_crc = source, 0
        start = self._read(5, "header", magic=True)
        if start[:3] != MAGIC:
            raise TextFormatError("not an .aet file (no AET magic)")
        version = start[3]
        if version not in (1, 2, VERSION):
            raise TextFormatError(f"unsupported .aet version {version} (this reads 1 to 3)")
        fixed = _FIXED_V1.size if version == 1 else _U32.size
        rest = self._read(start[4] + 8 + fixed, "header")
        header_crc = crc32(start + rest)
        if header_crc != _U32.unpack(self._read(4, "header"))[0]:
            raise TextFormatError("corrupted .aet header (its checksum differs)")
        try:
            model = rest[: start[4]].decode("ascii")
        except UnicodeDecodeError:
            raise TextFormatError("corrupted .aet header (model name is not ASCII)") from None
        weights_hash, fixed = rest[start[4] : start[4] + 8], rest[start[4] + 8 :]
        length, crc, block_size = (
            _FIXED_V1.unpack(fixed) if version == 1 else (-1, 0, *_U32.unpack(fixed))
        )
        if block_size == 0:
            raise TextFormatError("corrupted .aet header (block size 0)")
        self.header = Header(model, weights_hash, length, crc, block_size, version)

    def blocks(self) -> Iterator[Block]:
        read = self._blocks_v1 if self.header.version == 1 else self._blocks_v2
        yield from read()
        expected = self.file_crc
        if expected != _U32.unpack(self._read(4, "final checksum"))[0]:
            raise TextFormatError("corrupted .aet file (its checksum differs)")
        if self.source.read(1):
            raise TextFormatError("corrupted .aet file (bytes after the last block)")

    def _blocks_v1(self) -> Iterator[Block]:
        full, rest = divmod(self.header.length, self.header.block_size)
        count = full + (rest > 0)
        for i in range(count):
            length = self.header.block_size if i < full else rest
            kind, lanes, size = _BLOCK_V1.unpack(self._read(_BLOCK_V1.size, "block header"))
            _check_block(kind, lanes, size, length, self.header)
            yield Block(kind, lanes, self._read(size, "block"), length)

    def _blocks_v2(self) -> Iterator[Block]:
        total, crc = 0, 0
        while (kind := self._read(1, "block header")[0]) != END:
            lanes, length, size = struct.unpack("<HII", self._read(_BLOCK.size - 1, "block header"))
            if not 0 < length <= self.header.block_size:
                raise TextFormatError("corrupted .aet file (a block's length)")
            _check_block(kind, lanes, size, length, self.header)
            block = Block(kind, lanes, self._read(size, "block"), length)
            total += length
            yield block
        length, crc = _END.unpack(self._read(_END.size, "end record"))
        if length != total:
            raise TextFormatError("corrupted .aet file (its length differs from its blocks')")
        self.header = dataclasses.replace(self.header, length=length, crc=crc)

    def _read(self, size: int, what: str, magic: bool = False) -> bytes:
        data = self.source.read(size)
        while len(data) < size and (more := self.source.read(size - len(data))):
            data += more  # a pipe may hand out less than asked
        if len(data) < size:
            if magic and data[:3] != MAGIC[: len(data)]:
                raise TextFormatError("not an .aet file (no AET magic)")
            raise TextFormatError(f"truncated .aet file (its {what} is cut short)")
        self.file_crc = crc32(data, self.file_crc)
        return data


def pack(model: str, weights_hash: bytes, block_size: int, blocks: list[tuple]) -> bytes:
    """A whole file from (Block, original bytes) pairs."""
    out = io.BytesIO()
    writer = Writer(out, model, weights_hash, block_size)
    for block, original in blocks:
        writer.block(block, original)
    writer.end()
    return out.getvalue()


def unpack(data: bytes) -> tuple[Header, list[Block]]:
    """Header and blocks of a whole file, checked for structure and for the file's CRC; the
    original's CRC is checked after decoding."""
    reader = Reader(io.BytesIO(data))
    blocks = list(reader.blocks())
    return reader.header, blocks


def _check_block(kind: int, lanes: int, size: int, length: int, header: Header) -> None:
    if kind == STORED and size != length:
        raise TextFormatError("corrupted .aet file (a stored block of the wrong length)")
    words = header.version < 3  # constriction's 32-bit words; bytes from version 3
    if kind == CODED and (lanes == 0 or lanes > length or not header.model or words and size % 4):
        raise TextFormatError("corrupted .aet file (a coded block's lanes or size)")
    if kind not in (STORED, CODED):
        raise TextFormatError(f"corrupted .aet file (unknown block kind {kind})")

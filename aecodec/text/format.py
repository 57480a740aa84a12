"""The .aet container: header, then blocks, each coded or stored (pure bytes, no torch).

    magic "AET" | version u8 | model name: u8 length + ASCII | weights hash 8 bytes
    | original length u64 | CRC-32 of the original u32 | block size u32
    | CRC-32 of the header so far u32
    | per block: kind u8 (0 stored, 1 coded) | lanes u16 | payload length u32 | payload
    | CRC-32 of everything before it u32

All integers little-endian. The number of blocks and each block's length follow from the original
length and the block size; a file ends with its own CRC-32 right after the last block (the
range coder's last word has slack bits that decoding never reads: without it a flip there would
go unnoticed). See docs/text-format.md.
"""

import dataclasses
import struct
import zlib

from aecodec.errors import TextFormatError

MAGIC = b"AET"
VERSION = 1
STORED, CODED = 0, 1
_FIXED = struct.Struct("<QII")  # original length, CRC-32, block size
_BLOCK = struct.Struct("<BHI")  # kind, lanes, payload length
_CRC = struct.Struct("<I")


@dataclasses.dataclass(frozen=True)
class Block:
    kind: int
    lanes: int
    payload: bytes


@dataclasses.dataclass(frozen=True)
class Header:
    model: str  # "" when every block is stored
    weights_hash: bytes
    length: int
    crc: int
    block_size: int

    def block_lengths(self) -> list[int]:
        full, rest = divmod(self.length, self.block_size)
        return [self.block_size] * full + ([rest] if rest else [])


def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def pack(header: Header, blocks: list[Block]) -> bytes:
    name = header.model.encode("ascii")
    if len(name) > 255 or len(header.weights_hash) != 8:
        raise ValueError("a model name of at most 255 ASCII bytes and an 8-byte hash")
    parts = [MAGIC, bytes([VERSION, len(name)]), name, header.weights_hash]
    parts.append(_FIXED.pack(header.length, header.crc, header.block_size))
    parts.append(_CRC.pack(crc32(b"".join(parts))))
    for block in blocks:
        parts += [_BLOCK.pack(block.kind, block.lanes, len(block.payload)), block.payload]
    body = b"".join(parts)
    return body + _CRC.pack(crc32(body))


def unpack(data: bytes) -> tuple[Header, list[Block]]:
    """Header and blocks, checked for structure; the CRC is checked after decoding."""
    data = memoryview(data)
    if len(data) < 5 or bytes(data[:3]) != MAGIC:
        raise TextFormatError("not an .aet file (no AET magic)")
    if data[3] != VERSION:
        raise TextFormatError(f"unsupported .aet version {data[3]} (this reads {VERSION})")
    end = 5 + data[4]
    crc_at = end + 8 + _FIXED.size
    if len(data) < crc_at + _CRC.size:
        raise TextFormatError("truncated .aet header")
    if crc32(data[:crc_at]) != _CRC.unpack_from(data, crc_at)[0]:
        raise TextFormatError("corrupted .aet header (its checksum differs)")
    try:
        model = bytes(data[5:end]).decode("ascii")
    except UnicodeDecodeError:
        raise TextFormatError("corrupted .aet header (model name is not ASCII)") from None
    weights_hash = bytes(data[end : end + 8])
    length, crc, block_size = _FIXED.unpack_from(data, end + 8)
    if block_size == 0:
        raise TextFormatError("corrupted .aet header (block size 0)")
    header = Header(model, weights_hash, length, crc, block_size)
    pos, blocks = crc_at + _CRC.size, []
    for block_length in _lengths(header, len(data) - pos):
        if len(data) < pos + _BLOCK.size:
            raise TextFormatError("truncated .aet file (a block header is missing)")
        kind, lanes, size = _BLOCK.unpack_from(data, pos)
        pos += _BLOCK.size
        if len(data) < pos + size:
            raise TextFormatError("truncated .aet file (a block is cut short)")
        _check_block(kind, lanes, size, block_length, model)
        blocks.append(Block(kind, lanes, bytes(data[pos : pos + size])))
        pos += size
    if len(data) < pos + _CRC.size:
        raise TextFormatError("truncated .aet file (its final checksum is missing)")
    if pos + _CRC.size != len(data):
        raise TextFormatError("corrupted .aet file (bytes after the last block)")
    if crc32(data[:pos]) != _CRC.unpack_from(data, pos)[0]:
        raise TextFormatError("corrupted .aet file (its checksum differs)")
    return header, blocks


def _lengths(header: Header, remaining: int) -> list[int]:
    count = -(-header.length // header.block_size)
    if count * _BLOCK.size > remaining:  # before building a list as long as a corrupted length
        raise TextFormatError("truncated .aet file (fewer blocks than its length needs)")
    return header.block_lengths()


def _check_block(kind: int, lanes: int, size: int, length: int, model: str) -> None:
    if kind == STORED and size != length:
        raise TextFormatError("corrupted .aet file (a stored block of the wrong length)")
    if kind == CODED and (lanes == 0 or lanes > length or not model or size % 4):
        raise TextFormatError("corrupted .aet file (a coded block's lanes or size)")
    if kind not in (STORED, CODED):
        raise TextFormatError(f"corrupted .aet file (unknown block kind {kind})")

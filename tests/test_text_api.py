"""aecodec.text: any bytes come back exactly, and a damaged .aet file is always refused."""

import io
import random

import pytest
import torch

from aecodec.errors import AecodecError, ModelError, TextFormatError
from aecodec.text import api
from aecodec.text import format as fmt
from aecodec.text.model import TextModel, TextModelConfig, card_for, save

TINY = TextModelConfig(context=4, embed=4, hidden=16, hidden2=8)
ENGLISH = (
    b"Alice was beginning to get very tired of sitting by her sister on the bank, and of "
    b"having nothing to do: once or twice she had peeped into the book her sister was reading."
)


def tiny_codec(seed: int = 0, name: str = "tiny") -> api.TextCodec:
    torch.manual_seed(seed)
    return api.TextCodec.from_model(TextModel(TINY), name)


@pytest.fixture(scope="module")
def codec() -> api.TextCodec:
    return tiny_codec()


@pytest.fixture(autouse=True)
def short_lanes(monkeypatch):
    # Many lanes even in small inputs: the lane logic gets exercised, and the tests run fast.
    monkeypatch.setattr("aecodec.text.coding.MIN_LANE", 128)


def text(size: int, seed: int = 0) -> bytes:
    words = ENGLISH.split()
    rng = random.Random(seed)
    return b" ".join(rng.choice(words) for _ in range(size // 4))[:size]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"a",
        b"\x00\xff" * 3,
        "Grüße, 世界! ☃ naïve café — «quotes»\n".encode() * 20,
        b"\xff\xfe invalid \xc3\x28 utf-8 \xa0\xa1" * 30,
    ],
    ids=["empty", "one-byte", "binary", "unicode", "invalid-utf8"],
)
def test_round_trip(data, codec):
    assert api.decompress(api.compress(data, codec), codec) == data


def test_english_is_coded_and_shrinks(codec):
    data = text(4000)
    packed = api.compress(data, codec)
    assert api.info(packed)["blocks"][0]["kind"] == "coded"
    assert len(packed) < len(data) / 2  # an untrained model: the adaptive contexts do it
    assert api.decompress(packed, codec) == data


def test_random_bytes_are_stored_never_larger_than_a_stored_copy_plus_headers(codec):
    data = random.Random(1).randbytes(3000)
    packed = api.compress(data, codec)
    facts = api.info(packed)
    assert [b["kind"] for b in facts["blocks"]] == ["stored"]
    assert facts["model"] == "(stored)"
    assert len(packed) <= len(data) + 38 + len(codec.name) + 11  # header, end, one block
    assert api.decompress(packed) == data  # stored files need no model


def test_blocks_and_lanes(codec, monkeypatch):
    monkeypatch.setattr(api, "BLOCK_SIZE", 1000)
    monkeypatch.setattr("aecodec.text.coding.MIN_LANE", 100)
    data = text(3000) + random.Random(2).randbytes(1000) + text(400, seed=3)
    packed = api.compress(data, codec)
    blocks = api.info(packed)["blocks"]
    assert [b["kind"] for b in blocks] == ["coded"] * 3 + ["stored", "coded"]
    assert [b["lanes"] for b in blocks] == [10, 10, 10, 0, 4]
    assert api.decompress(packed, codec) == data


def test_every_single_byte_corruption_is_detected(codec, monkeypatch):
    monkeypatch.setattr("aecodec.text.coding.MIN_LANE", 16)  # 10 lanes: few steps per decode
    data = text(160)
    packed = api.compress(data, codec)
    for offset in range(len(packed)):
        damaged = bytearray(packed)
        damaged[offset] ^= 0x01 if offset % 2 else 0xFF
        with pytest.raises(AecodecError):
            api.decompress(bytes(damaged), codec)


def test_every_truncation_is_refused(codec):
    packed = api.compress(text(300), codec)
    for length in range(len(packed)):
        with pytest.raises(TextFormatError):
            api.decompress(packed[:length], codec)


def test_header_damage_is_named_as_such(codec):
    packed = bytearray(api.compress(text(300), codec))
    packed[6] ^= 1  # in the model name
    with pytest.raises(TextFormatError, match="header"):
        api.decompress(bytes(packed), codec)
    with pytest.raises(TextFormatError, match="not an .aet file"):
        api.decompress(b"PK\x03\x04 a zip file", codec)


def test_other_weights_are_refused(codec):
    packed = api.compress(text(3000), codec)
    with pytest.raises(ModelError, match="weights"):
        api.decompress(packed, tiny_codec(seed=1))


def test_header_fields(codec):
    data = text(3000)
    header, blocks = fmt.unpack(api.compress(data, codec))
    assert (header.model, header.length, header.crc) == ("tiny", len(data), fmt.crc32(data))
    assert header.weights_hash == codec.weights_hash and len(blocks) == 1


def test_repeats_across_lanes_round_trip_and_are_found(codec, monkeypatch):
    # The match model points into other lanes' bytes: only ever at bytes already decoded.
    monkeypatch.setattr("aecodec.text.coding.MIN_LANE", 64)
    phrase = bytes(random.Random(4).choices(range(32, 127), k=300))
    data = phrase * 6 + b"tail"
    packed = api.compress(data, codec)
    assert api.info(packed)["blocks"][0]["lanes"] > 20
    assert len(packed) < len(data) / 3
    assert api.decompress(packed, codec) == data


@pytest.mark.parametrize("name", ["../evil", "/tmp/evil", "evil"])
def test_a_file_names_its_model_by_registry_name_never_by_path(tmp_path, name, monkeypatch):
    # Model files where the name would point, were it a path: never opened.
    monkeypatch.chdir(tmp_path)
    save(TextModel(TINY), tmp_path / "evil", card_for(TINY))
    packed = api.compress(text(4000), tiny_codec(name=name))
    with pytest.raises(ModelError, match="is not a model name|'evil' is not installed"):
        api.decompress(packed)


class Trickle(io.RawIOBase):
    """A pipe that hands out at most 7 bytes per read."""

    def __init__(self, data: bytes) -> None:
        self.data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self.data.read(min(size, 7) if size >= 0 else 7)


def test_streams_in_blocks_give_the_same_file_whatever_the_reads(codec, monkeypatch):
    monkeypatch.setattr(api, "BLOCK_SIZE", 400)
    data = text(400) + random.Random(5).randbytes(300)
    packed = api.compress(data, codec)
    out = io.BytesIO()
    assert api.compress_stream(Trickle(data), out, codec, workers=1) == len(data)
    assert out.getvalue() == packed
    assert [b["kind"] for b in api.info(packed)["blocks"]] == ["coded", "stored"]
    restored = io.BytesIO()
    assert api.decompress_stream(Trickle(packed), restored, codec, workers=1) == len(data)
    assert restored.getvalue() == data


def test_a_stream_cut_short_or_damaged_is_refused(codec, monkeypatch):
    monkeypatch.setattr(api, "BLOCK_SIZE", 400)
    packed = api.compress(text(800), codec)
    with pytest.raises(TextFormatError, match="truncated"):
        api.decompress_stream(io.BytesIO(packed[:-20]), io.BytesIO(), codec, workers=1)
    damaged = bytearray(packed)
    damaged[-10] ^= 4  # in the end record's length
    with pytest.raises(TextFormatError):
        api.decompress_stream(io.BytesIO(bytes(damaged)), io.BytesIO(), codec, workers=1)


@pytest.mark.slow
def test_the_file_is_the_same_with_one_and_two_worker_processes(codec, monkeypatch):
    monkeypatch.setattr(api, "BLOCK_SIZE", 3000)
    data = text(7000) + random.Random(6).randbytes(2000) + text(2000, seed=7)
    packed = api.compress(data, codec, workers=1)
    assert len(api.info(packed)["blocks"]) == 4
    assert api.compress(data, codec, workers=2) == packed
    assert api.decompress(packed, codec, workers=2) == data

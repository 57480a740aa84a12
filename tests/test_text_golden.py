"""Shipped text models: each loads from its card, and a file coded today decodes forever."""

import json
from pathlib import Path

import pytest

from aecodec.text import api
from aecodec.text import format as fmt

DATA = Path(__file__).parent / "data"
GOLDEN_V1 = DATA / "text-golden-v1.aet"  # written by format version 1 (length in the header)
GOLDEN_V2 = DATA / "text-golden-v2.aet"  # version 2 (constriction's range coder), text-mlp-v1
GOLDEN_V2_MLP2 = DATA / "text-golden-v2-mlp2.aet"  # the same by text-mlp-v2
GOLDEN = DATA / "text-golden-v3-mlp2.aet"  # version 3, as written now, by text-mlp-v2
TEXT = (
    "A golden file pins the format and the shipped model together: if a change to the mixer,\r\n"
    "the tables or the weights moved a single probability, this text would no longer come back\r\n"
    "from the bytes written when the model shipped. Such a change needs a new format version.\n"
    "Unicode too: naïve café, Grüße, 東京, and a last line without its line end."
).encode()


@pytest.mark.parametrize("name", api.available_models())
def test_shipped_model_loads_from_its_card(name):
    card = json.loads((api.WEIGHTS / f"{name}.json").read_text())
    codec = api.load_model(name)
    assert codec.exact.config.context == card["config"]["context"]
    assert "data" in card["training"] and "Canterbury" in card["training"]["not_trained_on"]


def test_the_default_model_is_shipped():
    assert api.DEFAULT_MODEL in api.available_models()


@pytest.mark.parametrize("golden", [GOLDEN_V1, GOLDEN_V2, GOLDEN_V2_MLP2, GOLDEN], ids=str)
def test_golden_file_decodes(golden):
    assert api.decompress(golden.read_bytes()) == TEXT


def test_the_golden_file_of_this_version_is_what_the_encoder_writes():
    golden = GOLDEN.read_bytes()
    assert fmt.unpack(golden)[0].version == fmt.VERSION
    assert api.compress(TEXT, "text-mlp-v2") == golden


def test_version_1_files_hold_the_coded_stream_of_version_2():
    old = GOLDEN_V1.read_bytes()
    (header, old_blocks), (_, new_blocks) = fmt.unpack(old), fmt.unpack(GOLDEN_V2.read_bytes())
    assert header.version == 1 and (header.length, header.crc) == (len(TEXT), fmt.crc32(TEXT))
    assert [b.payload for b in old_blocks] == [b.payload for b in new_blocks]

"""A file names its model, the user names weights: what the registry opens, and how it fails."""

import json
import shutil
import struct
import zlib
from pathlib import Path

import pytest

import aecodec
from aecodec import bitstream, codec
from aecodec.errors import BitstreamError, ModelError
from aecodec.zoo import DEFAULT_MODEL, available_models, load_model
from tests.conftest import smooth_image


def file_naming(name: bytes, data: bytes) -> bytes:
    """A valid file's bytes with another model name and both checksums recomputed, as an
    attacker would write them."""
    n = data[6]
    head_end = len(data) - sum(map(len, bitstream.unpack(data)[1])) - 4  # header CRC included
    head = data[:6] + bytes([len(name)]) + name + data[7 + n : head_end - 4]
    body = head + struct.pack(">I", zlib.crc32(head)) + data[head_end:-4]
    return body + struct.pack(">I", zlib.crc32(body))


@pytest.fixture
def tiny_file(tiny_model) -> bytes:
    return aecodec.compress(smooth_image(16, 16), weights=tiny_model)


@pytest.mark.parametrize(
    "name", [b"../evil", b"/etc/passwd", b"..", b"a/b", b"x" * 65, b"y" * 255, b"\x1b[2J"]
)
def test_a_file_cannot_name_a_path_or_an_overlong_name(tiny_file, name):
    with pytest.raises(BitstreamError, match="model name .* is not a registry name"):
        aecodec.decompress(file_naming(name, tiny_file))


def test_a_file_never_opens_weights_beside_it_or_in_the_working_folder(
    tiny_model, tiny_file, tmp_path, monkeypatch
):
    # The tiny model's files sit in the working folder under the name the file gives: still
    # refused, because only installed models can be named by a file.
    for suffix in (".safetensors", ".json"):
        shutil.copy(tiny_model + suffix, tmp_path / ("evil" + suffix))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match="codec model 'evil' is not installed"):
        aecodec.decompress(file_naming(b"evil", tiny_file))


@pytest.fixture
def forget_models():
    """The codec remembers loaded models by name: forget those of a changed $AECODEC_MODELS."""
    yield
    codec.cached_model.cache_clear()
    codec.cached_synthesis.cache_clear()


def test_installed_models_are_found_by_name(
    tiny_model, tiny_file, tmp_path, monkeypatch, forget_models
):
    name = Path(tiny_model).name
    for suffix in (".safetensors", ".json"):
        shutil.copy(tiny_model + suffix, tmp_path / (name + suffix))
    monkeypatch.setenv("AECODEC_MODELS", str(tmp_path))
    assert name in available_models() and DEFAULT_MODEL in available_models()
    assert aecodec.decompress(tiny_file).size == (16, 16)  # no weights given: found installed


def test_a_model_that_is_not_installed_says_which_model_the_file_needs(tiny_file):
    with pytest.raises(ModelError, match="'hyperprior-tiny' is not installed .* --weights PATH"):
        aecodec.decompress(file_naming(b"hyperprior-tiny", tiny_file))


def test_weights_given_by_path_must_be_the_files_weights(tiny_file):
    other = available_models()[DEFAULT_MODEL]
    with pytest.raises(ModelError, match="written with other weights"):
        aecodec.decompress(tiny_file, weights=other)


def test_names_from_the_user_follow_the_same_rule():
    with pytest.raises(ModelError, match="is not a model name"):
        load_model("../weights/hyperprior-sc-joint")


def broken_model(tiny_model: str, tmp_path: Path, weights=None, card=None) -> Path:
    path = tmp_path / "broken.safetensors"
    path.write_bytes(
        weights if weights is not None else Path(tiny_model + ".safetensors").read_bytes()
    )
    text = card if card is not None else Path(tiny_model + ".json").read_text()
    path.with_suffix(".json").write_text(text)
    return path


def card_with(tiny_model: str, **config) -> str:
    card = json.loads(Path(tiny_model + ".json").read_text())
    card["config"].update(config)
    return json.dumps(card)


@pytest.mark.parametrize(
    "case, message",
    [
        ({"weights": b"not safetensors at all"}, "is not a valid safetensors file"),
        ({"weights": b""}, "is not a valid safetensors file"),
        ({"card": "{not json"}, "cannot read .*broken.json"),
        ({"card": "[1, 2]"}, "is not a model card"),
        ({"card": '{"family": "hyperprior", "config": {"N": "wide"}}'}, "cannot build a model"),
        ({"card": '{"family": "tape", "config": {}}'}, "unknown model family 'tape'"),
        ({"card": '{"family": "hyperprior", "config": {"depth": 3}}'}, "cannot build a model"),
    ],
)
def test_malformed_weights_and_cards_are_one_model_error_line(tiny_model, tmp_path, case, message):
    path = broken_model(tiny_model, tmp_path, **case)
    with pytest.raises(ModelError, match=message) as error:
        load_model(weights=path)
    assert "\n" not in str(error.value)


def test_weights_of_another_architecture_are_one_line_naming_the_first_difference(
    tiny_model, tmp_path
):
    path = broken_model(tiny_model, tmp_path, card=card_with(tiny_model, N=24))
    message = r"do not fit the card's architecture: \d+ of other shapes \(first g_a.0.weight: "
    with pytest.raises(ModelError, match=message) as error:
        load_model(weights=path)
    assert "\n" not in str(error.value)


def test_missing_weights_or_card(tiny_model, tmp_path):
    with pytest.raises(ModelError, match="nothing.safetensors does not exist"):
        load_model(weights=tmp_path / "nothing.safetensors")
    path = broken_model(tiny_model, tmp_path)
    path.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match="broken.json does not exist"):
        load_model(weights=path)

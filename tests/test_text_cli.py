"""`aecodec text compress|decompress|info`: files, standard streams, --force, one error line."""

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from aecodec.text import api
from aecodec.text.cli import app
from aecodec.text.model import TextModel, TextModelConfig, card_for, save

TEXT = b"The quick brown fox jumps over the lazy dog. " * 30


@pytest.fixture()
def model(tmp_path, monkeypatch):
    """A tiny untrained model saved as a file, named by its path like any model."""
    monkeypatch.setattr("aecodec.text.coding.MIN_LANE", 128)
    torch.manual_seed(0)
    config = TextModelConfig(context=4, embed=4, hidden=16, hidden2=8)
    path = tmp_path / "tiny"
    save(TextModel(config), path, card_for(config))
    api.load_model.cache_clear()
    return str(path)


def invoke(*args, input=None):
    return CliRunner().invoke(app, list(args), input=input)


def test_compress_decompress_info(tmp_path, model):
    source = tmp_path / "fox.txt"
    source.write_bytes(TEXT)
    done = invoke("compress", str(source), "--weights", model)
    assert done.exit_code == 0, done.output
    assert "bpb" in done.output and (tmp_path / "fox.txt.aet").exists()
    source.unlink()
    assert invoke("decompress", str(tmp_path / "fox.txt.aet"), "--weights", model).exit_code == 0
    assert source.read_bytes() == TEXT
    info = invoke("info", str(tmp_path / "fox.txt.aet"))
    assert "model tiny" in info.output and f"{len(TEXT):,} bytes" in info.output


def test_standard_streams(model):
    packed = invoke("compress", "-", "-o", "-", "--weights", model, input=TEXT)
    assert packed.exit_code == 0
    restored = invoke("decompress", "-", "-o", "-", "--weights", model, input=packed.stdout_bytes)
    assert restored.stdout_bytes == TEXT


def test_never_overwrites_without_force(tmp_path, model):
    source, target = tmp_path / "a.txt", tmp_path / "a.txt.aet"
    source.write_bytes(TEXT)
    target.write_bytes(b"keep")
    done = invoke("compress", str(source), "--weights", model)
    assert done.exit_code == 1 and "--force" in done.output and target.read_bytes() == b"keep"
    assert invoke("compress", str(source), "--weights", model, "--force").exit_code == 0


@pytest.mark.parametrize("content", [b"", b"AET\x01", b"not an aet file at all"])
def test_bad_input_is_one_error_line_and_exit_1(tmp_path, content):
    bad = tmp_path / "bad.aet"
    bad.write_bytes(content)
    done = invoke("decompress", str(bad), "-o", str(tmp_path / "out"))
    assert done.exit_code == 1
    assert done.output.count("\n") == 1 and done.output.startswith("error: ")


def test_every_command_has_help_and_is_in_the_docs():
    docs = (Path(__file__).parents[1] / "docs" / "text.md").read_text()
    for command in app.registered_commands:
        name = command.callback.__name__
        done = invoke(name, "--help")
        assert done.exit_code == 0 and len(done.output) > 100
        assert f"aecodec text {name}" in docs

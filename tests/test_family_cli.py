"""The family's commands on tiny data: fit writes weights, card and grid; embed, generate and
reconstruct read them back; bad input is one line and exit status 1."""

import json
import sys

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from aecodec.cli import app, main

runner = CliRunner()


def call(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def tiny_vae(tmp_path_factory):
    """A VAE trained for one epoch on sklearn's digits through `aecodec fit`, into a folder
    that `fit` creates (as `-o runs/NAME` does in a fresh checkout)."""
    folder = tmp_path_factory.mktemp("fit") / "runs" / "new"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: threads only cost (several seconds on a busy host)
    try:
        result = call("fit", "digits", "--model", "vae", "--hidden", "16", "--epochs", "1",
                      "--holdout", "97", "-o", folder / "tiny")  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    return folder / "tiny"


def test_fit_writes_weights_card_and_reconstruction_grid(tiny_vae):
    card = json.loads(tiny_vae.with_suffix(".json").read_text())
    assert card["family"] == "vae" and card["config"]["latent"] == 2
    assert card["data"] == {"source": "digits", "examples": 1797, "train": "first 1700",
                            "heldout": "last 97"}  # fmt: skip
    assert set(card["heldout_scores"]) == {"mse", "nelbo_nats"}
    assert tiny_vae.with_suffix(".safetensors").is_file()
    from PIL import Image

    grid = Image.open(tiny_vae.with_suffix(".png"))
    assert grid.size == (2 * (10 * 10 - 2), 2 * (2 * 10 - 2))  # 10 tiles of 8+2 px, 2 rows, x2


def test_embed_writes_codes_and_a_scatter_plot(tiny_vae, tmp_path):
    result = call(
        "embed", "digits", "--weights", f"{tiny_vae}.safetensors", "-o", tmp_path / "z.npy"
    )
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "z.npy").shape == (1797, 2)
    assert (tmp_path / "z.png").read_bytes()[:4] == b"\x89PNG"
    assert "the 2-D code itself" in result.output


def test_embed_to_csv_keeps_the_labels(tiny_vae, tmp_path):
    result = call("embed", "digits", "--weights", tiny_vae, "-o", tmp_path / "z.csv",
                  "--plot", tmp_path / "p.png")  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "z.csv").read_text().splitlines()
    assert lines[0] == "z0,z1,label" and len(lines) == 1798 and lines[1].endswith(",0")


def test_generate_samples_and_interpolations(tiny_vae, tmp_path):
    result = call("generate", "--weights", tiny_vae, "-o", tmp_path / "s.png", "--count", "6")
    assert result.exit_code == 0, result.output
    result = call("generate", "--weights", tiny_vae, "-o", tmp_path / "i.png",
                  "--interpolate", "0", "5", "--steps", "4", "--data", "digits")  # fmt: skip
    assert result.exit_code == 0, result.output
    from PIL import Image

    assert Image.open(tmp_path / "i.png").size == (2 * (6 * 10 - 2), 2 * 8)


def test_reconstruct_prints_the_error(tiny_vae, tmp_path):
    result = call("reconstruct", "digits", "--weights", tiny_vae, "-o", tmp_path / "r.png")
    assert result.exit_code == 0 and "MSE" in result.output


def test_existing_outputs_need_force(tiny_vae, tmp_path):
    (tmp_path / "s.png").write_bytes(b"old")
    result = call("generate", "--weights", tiny_vae, "-o", tmp_path / "s.png")
    assert isinstance(result.exception, Exception) and "--force" in str(result.exception)


@pytest.fixture
def mnist_folder(tmp_path, monkeypatch):
    """A stand-in for MNIST's IDX files (30 random digits), where $AECODEC_MNIST points."""
    from tests.test_family_data import write_idx

    rng = np.random.default_rng(0)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (30, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, 30, np.uint8))
    monkeypatch.setenv("AECODEC_MNIST", str(tmp_path))
    return tmp_path


def test_shipped_models_run_without_a_data_argument(tmp_path, mnist_folder):
    assert call("generate", "--model", "mnist-vae", "-o", tmp_path / "s.png").exit_code == 0
    assert call("embed", "-o", tmp_path / "z.npy").exit_code == 0
    assert call("reconstruct", "-o", tmp_path / "r.png").exit_code == 0
    assert "mnist-vae" in call("autoencoders").output


@pytest.mark.parametrize(
    "args, message",
    [(["fit", "nowhere.npy"], "no such data file"),
     (["fit", "digits", "--model", "gan"], "unknown model 'gan'"),
     (["generate", "-m", "nope"], "autoencoder 'nope' is not installed"),
     (["generate", "-m", "TINY"], "is not a model name"),
     (["generate", "--weights", "nowhere.safetensors"], "does not exist"),
     (["embed", "x28.npy", "--weights", "TINY"], "do not fit model 'tiny'"),
     (["reconstruct", "--weights", "TINY"], "names no demo data: give a DATA argument"),
     (["generate", "--weights", "TINY", "--interpolate", "0", "a.png", "--data", "digits"],
      "cannot read a.png as an image"),
     (["embed", "digits", "--weights", "TINY", "-o", "z.txt"], ".npy or .csv")],
)  # fmt: skip
def test_user_errors_are_one_line_and_status_1(args, message, tiny_vae, tmp_path, monkeypatch,
                                               capsys):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "x28.npy", np.zeros((4, 1, 28, 28), np.float32))
    monkeypatch.setattr(
        sys, "argv", ["aecodec", *[str(tiny_vae) if a == "TINY" else a for a in args]]
    )
    with pytest.raises(SystemExit) as exit:
        main()
    assert exit.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_installed_autoencoders_are_listed_and_loaded_by_name(tiny_vae, tmp_path, monkeypatch):
    monkeypatch.setenv("AECODEC_MODELS", str(tiny_vae.parent))
    assert "tiny: vae autoencoder" in call("autoencoders").output
    result = call("generate", "-m", "tiny", "-o", tmp_path / "s.png", "--count", "4")
    assert result.exit_code == 0, result.output


def test_every_family_command_has_help_and_is_in_the_docs():
    from pathlib import Path

    from aecodec.family.cli import app as family_app

    docs = (Path(__file__).parent.parent / "docs" / "family.md").read_text()
    commands = {c.callback.__name__: c.callback for c in family_app.registered_commands}
    assert set(commands) == {"fit", "embed", "generate", "reconstruct", "autoencoders"}
    for name, command in commands.items():
        assert command.__doc__, name
        assert f"aecodec {name}" in docs, name
    assert "--weights" in docs

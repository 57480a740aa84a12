"""Shared fixtures: a tiny frozen codec (untrained weights code exactly too), test images, and
the command line run in this process."""

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from aecodec.models.hyperprior import Hyperprior
from aecodec.zoo import CONFIGS, save_model

TINY = CONFIGS["hyperprior-tiny"]
# The suite's models are tiny: a second thread only adds hand-offs, and on a busy machine OpenMP's
# waiting threads make a test up to 30 times slower. Tests of thread counts set their own.
torch.set_num_threads(1)


@pytest.fixture(
    scope="session", params=["hyperprior-tiny", "hyperprior-cb-tiny", "hyperprior-sc-tiny"]
)
def tiny_model(request, tmp_path_factory) -> str:
    """Path (without suffix) of a tiny saved model, usable as `model=` everywhere; without a
    context, with the checkerboard and with the space-channel one, so every codec test covers
    every entropy model."""
    return save_tiny(request.param, tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def tiny_codec(tmp_path_factory) -> str:
    """One tiny saved model (no context), for tests of the command line, which need no more."""
    return save_tiny("hyperprior-tiny", tmp_path_factory.mktemp("codec"))


def save_tiny(config: str, folder: Path) -> str:
    torch.manual_seed(0)
    model = Hyperprior(CONFIGS[config])
    with torch.no_grad():  # scale the gains so latents span several symbols
        model.gain.mul_(torch.tensor([[4.0], [12.0]]))
    if model.context_model is not None:
        make_context_matter(model.context_model)
    path = folder / config
    save_model(model, path, {"description": "untrained test model"})
    return str(path)


@torch.no_grad()
def make_context_matter(context: torch.nn.Module) -> None:
    """Non-zero corrections and a shuffled channel order, as after training (the last layers of a
    fresh context model are zero, which would test nothing)."""
    torch.nn.init.normal_(context.entropy_parameters[-1].weight, std=0.05)
    for net in [*getattr(context, "anchor_nets", []), *getattr(context, "other_nets", [])]:
        torch.nn.init.normal_(net.aggregate[-1].weight, std=0.05)
    if hasattr(context, "set_order"):
        context.set_order(torch.rand(len(context.order)))


def smooth_image(h: int, w: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    """A natural-looking test image: smooth gradients, a disc and mild noise, uint8 HxWxC."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w, 1)
    planes = []
    for _ in range(channels):
        phase = rng.uniform(0, 6)
        plane = 0.5 + 0.3 * np.sin(4 * xx + phase) * np.cos(3 * yy - phase)
        plane += 0.2 * (((xx - 0.5) ** 2 + (yy - 0.5) ** 2) < 0.08)
        planes.append(plane + rng.normal(0, 0.02, (h, w)))
    return (np.clip(np.stack(planes, -1), 0, 1) * 255).round().astype(np.uint8)


@pytest.fixture
def one_thread():
    """Run a test on one thread (tiny models train faster without thread hand-offs)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def image_path(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "photo.png"
    Image.fromarray(smooth_image(40, 56)).save(path)
    return path


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str
    stdout_bytes: bytes = b""


@pytest.fixture
def cli(capsysbinary, monkeypatch):
    """Runs the real `aecodec` entry point in this process (a subprocess per call would cost
    seconds): cli("compress", path, ..., input=b"...") -> Done(returncode, stdout, stderr,
    stdout_bytes); `input` is standard input."""
    import io

    from aecodec.cli import main

    def run(*args, input: bytes = b"") -> Done:
        monkeypatch.setattr(sys, "argv", ["aecodec", *map(str, args)])
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(input)))
        with pytest.raises(SystemExit) as done:
            main()
        captured = capsysbinary.readouterr()
        out, err = (s.decode("utf-8", "replace") for s in (captured.out, captured.err))
        return Done(done.value.code, out, err, captured.out)

    return run

"""Shared fixtures: a tiny frozen codec (untrained weights code exactly too) and test images."""

from pathlib import Path

import numpy as np
import pytest
import torch

from aecodec.models.hyperprior import Hyperprior
from aecodec.zoo import CONFIGS, save_model

TINY = CONFIGS["hyperprior-tiny"]


@pytest.fixture(scope="session", params=["hyperprior-tiny", "hyperprior-cb-tiny"])
def tiny_model(request, tmp_path_factory) -> str:
    """Path (without suffix) of a tiny saved model, usable as `model=` everywhere; once without
    and once with the checkerboard context, so every codec test covers both entropy models."""
    torch.manual_seed(0)
    model = Hyperprior(CONFIGS[request.param])
    with torch.no_grad():  # scale the gains so latents span several symbols
        model.gain.mul_(torch.tensor([[4.0], [12.0]]))
        if model.context_model is not None:  # a context that matters, as after training
            torch.nn.init.normal_(model.context_model.entropy_parameters[-1].weight, std=0.05)
    path = tmp_path_factory.mktemp("models") / request.param
    save_model(model, path, {"description": "untrained test model"})
    return str(path)


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

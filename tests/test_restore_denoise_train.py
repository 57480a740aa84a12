"""Training the denoiser: noise as a noisy photo file holds it, checkpoints that resume, and
shipping a checkpoint as a model the API loads."""

import json

import numpy as np
import torch
from PIL import Image

from aecodec.restore.denoise import api
from aecodec.restore.denoise.model import DenoiserConfig
from aecodec.restore.denoise.train import TrainConfig, add_noise, ship, train


def test_noise_is_rounded_clipped_and_gray_on_gray_images():
    clean = torch.rand(4, 3, 16, 16)
    clean[1] = clean[1, :1].expand(3, -1, -1)  # a gray image among colour ones
    clean = (clean * 255).round() / 255
    sigma = torch.tensor([0.0, 25.0, 25.0, 200.0])
    noisy = add_noise(clean, sigma, torch.Generator().manual_seed(0))
    levels = noisy * 255
    assert torch.equal(levels, levels.round()) and levels.min() >= 0 and levels.max() <= 255
    assert torch.equal(noisy[0], clean[0])
    assert torch.equal(noisy[1, 0], noisy[1, 2]) and not torch.equal(noisy[1], clean[1])
    assert not torch.equal(noisy[2, 0], noisy[2, 2])
    std = (levels[2] - clean[2] * 255)[(clean[2] > 0.3) & (clean[2] < 0.7)].std()
    assert 22 < std < 28
    assert ((levels[3] == 0) | (levels[3] == 255)).float().mean() > 0.5  # clipped, not wrapped


def test_training_checkpoints_resume_and_ship(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (48, 40, 3), dtype=np.uint8)).save(data / f"{i}.png")
    out, tiny = tmp_path / "run", DenoiserConfig(channels=3, width=8, depth=4)
    config = TrainConfig(batch=2, crop=32, steps=2, log_every=1)
    train([data], out, config, tiny, "cpu")
    state = json.loads((out / "state.json").read_text())
    assert state["step"] == 2
    first = (out / "latest.safetensors").read_bytes()
    train([data], out, TrainConfig(batch=2, crop=32, steps=3, log_every=1), tiny, "cpu")
    assert json.loads((out / "state.json").read_text())["step"] == 3
    assert (out / "latest.safetensors").read_bytes() != first
    assert len((out / "log.csv").read_text().splitlines()) == 1 + 3  # header, steps 1, 2, 3
    ship(out, "denoise-test", tmp_path / "weights")
    card = json.loads((tmp_path / "weights" / "denoise-test.json").read_text())
    assert card["family"] == "denoiser" and card["training"]["steps"] == 3
    assert "Kodak" in card["training"]["not_trained_on"]
    # the recipe names both schedules, the second resuming at the step the first had reached
    assert card["training"]["recipe"] == (
        "STEPS=2 sh recipes/denoise.sh; from step 2: STEPS=3 sh recipes/denoise.sh "
        "(the same run resumed)"
    )
    image = api.denoise(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8), 10,
                        weights=tmp_path / "weights" / "denoise-test.safetensors")  # fmt: skip
    assert image.size == (24, 20)
    # a checkpoint of a run that did not record its schedules: the recipe says so
    latest = json.loads((out / "latest.json").read_text())
    del latest["training"]["schedules"]
    (out / "latest.json").write_text(json.dumps(latest))
    ship(out, "denoise-test", tmp_path / "weights")
    card = json.loads((tmp_path / "weights" / "denoise-test.json").read_text())
    assert card["training"]["recipe"] == (
        "STEPS=3 sh recipes/denoise.sh (the last schedule of a run whose earlier ones were not "
        "recorded)"
    )

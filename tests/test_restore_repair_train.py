"""The repair trainer: a few steps on tiny images, a resumed run, and the shipped model."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from aecodec.restore.repair import api, train
from aecodec.restore.repair.model import RepairConfig, RepairNet
from tests.conftest import smooth_image


def config(tmp_path, steps: int) -> train.TrainConfig:
    return train.TrainConfig(
        data=[str(tmp_path / "photos")], out=str(tmp_path / "run"), steps=steps, batch=2, crop=32,
        log_every=1, portable=str(tmp_path / "portable"),
        model=RepairConfig(widths=[4, 8], dilations=[2]),
    )  # fmt: skip


@pytest.fixture
def photos(tmp_path):
    (tmp_path / "photos").mkdir()
    for seed in range(2):
        Image.fromarray(smooth_image(48, 64, seed=seed)).save(tmp_path / f"photos/{seed}.png")


@pytest.mark.slow
def test_training_resumes_where_it_stopped_and_ships_a_loadable_repairer(
    tmp_path, photos, one_thread
):
    train.train(config(tmp_path, steps=2))
    first = (tmp_path / "run/log.csv").read_text().splitlines()
    train.train(config(tmp_path, steps=4))  # the same run, carried on to step 4
    log = (tmp_path / "run/log.csv").read_text().splitlines()
    assert log[: len(first)] == first and log[-1].startswith("4,")
    assert (tmp_path / "portable/checkpoint.safetensors").is_file()
    name = tmp_path / "repair-tiny"
    train.ship(tmp_path / "run", name, "the recipe")
    card = json.loads(name.with_suffix(".json").read_text())
    assert card["family"] == "repairer" and card["training_run"]["steps"] == 4
    assert card["training_run"]["command"] == "the recipe"
    mask = np.zeros((32, 32), bool)
    mask[8:16, 8:16] = True
    out = api.repair(smooth_image(32, 32), mask, weights=name.with_suffix(".safetensors"))
    assert out.size == (32, 32)


def test_a_new_machine_resumes_from_the_portable_checkpoint(tmp_path, photos, one_thread):
    train.train(config(tmp_path, steps=2))
    (tmp_path / "run/checkpoint.safetensors").unlink()
    train.train(config(tmp_path, steps=3))
    assert (tmp_path / "run/log.csv").read_text().splitlines()[-1].startswith("3,")


def test_validation_scores_the_network_against_its_own_smooth_fill(tmp_path, photos, one_thread):
    net = RepairNet(RepairConfig(widths=[4, 8], dilations=[2]))  # its last layer starts at 0
    validation = train.Validation(tmp_path / "photos", 32, "cpu", per_kind=2)
    assert validation.gains(net) == (0.0, 0.0)  # the fill itself
    torch.nn.init.constant_(net.head[0].bias, 1.0)  # holes filled white: far worse
    assert validation.gains(net)[1] < -1  # (a 64x64 box covers a whole 32x32 crop: no fill)


def test_evaluation_sets_are_refused_as_training_data():
    with pytest.raises(SystemExit, match="evaluation set"):
        train._training_images(["../shared/data/kodak"])

"""`aecodec train`: learns, is reproducible, resumes, and runs data-parallel under torchrun."""

import csv
import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

import aecodec
from aecodec.cli import main
from aecodec.errors import ModelError
from aecodec.models.hyperprior import Hyperprior, HyperpriorConfig
from aecodec.train.codec import TrainConfig, train_codec, warm_start
from aecodec.train.entropy import EntropyTrainConfig, train_entropy
from aecodec.zoo import CONFIGS, DEFAULT_CONFIG, load_model, save_model
from tests.conftest import make_context_matter, smooth_image

ROOT = Path(__file__).parent.parent
ARCHIVE = ROOT / "models"  # superseded models, kept out of the package


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos" / "nested"
    folder.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(smooth_image(80, 96, seed=i)).save(folder / f"{i}.png")
    Image.fromarray(smooth_image(70, 70, seed=9)).save(folder / "extra.jpg")
    return tmp_path / "photos"


def _config(photos: Path, out: Path, **overrides) -> TrainConfig:
    settings = dict(model=HyperpriorConfig(16, 24, (0.01, 0.05)), crop=64, batch_size=2,
                    lr=1e-3, steps=20, log_every=5, val_every=10, val_dir=photos)  # fmt: skip
    return TrainConfig([photos], out, **{**settings, **overrides})


def _losses(out: Path) -> list[float]:
    with open(out / "log.csv") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def test_training_lowers_the_loss_and_exports_a_usable_model(photos, tmp_path):
    weights = train_codec(_config(photos, tmp_path / "run"))
    losses = _losses(tmp_path / "run")
    assert losses[-1] < losses[0]
    card = load_model(weights=weights).card
    assert card["training"]["steps"] == 20 and len(card["validation"]) == 2


def test_same_seed_gives_the_same_training(photos, tmp_path):
    train_codec(_config(photos, tmp_path / "a", steps=10))
    train_codec(_config(photos, tmp_path / "b", steps=10))
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")


def test_resume_continues_from_the_checkpoint(photos, tmp_path):
    train_codec(_config(photos, tmp_path / "run", steps=10))
    train_codec(_config(photos, tmp_path / "run", steps=20, resume=True))
    with open(tmp_path / "run" / "log.csv") as f:
        steps = [int(row["step"]) for row in csv.DictReader(f)]
    assert steps[-1] == 20 and steps.count(10) == 1


@pytest.mark.slow
def test_two_processes_train_data_parallel_with_torchrun(photos, tmp_path):
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "aecodec", "train", str(photos), "--out", str(tmp_path / "ddp"), "--steps", "6",
        "--batch-size", "1", "--crop", "64", "--config", "hyperprior-tiny",
        "--device", "cpu",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    card = load_model(weights=tmp_path / "ddp" / "model").card
    assert card["training"]["batch_size"] == 2  # 1 per process, 2 processes


def test_the_default_config_is_the_default_models_architecture():
    # `aecodec train --init <default>` fine-tunes the default without naming a config
    assert load_model().model.config == CONFIGS[DEFAULT_CONFIG]


def test_training_can_start_from_an_existing_model(photos, tmp_path, tiny_model):
    start = load_model(weights=tiny_model).model
    cfg = _config(photos, tmp_path / "run", steps=0, init=tiny_model, model=start.config)
    result = load_model(weights=train_codec(cfg)).model
    for key, value in start.state_dict().items():
        assert torch.equal(result.state_dict()[key], value)


def test_a_context_model_can_be_added_to_a_trained_hyperprior(tmp_path):
    source = Hyperprior(CONFIGS["hyperprior-tiny"])
    model = Hyperprior(CONFIGS["hyperprior-cb-tiny"])
    warm_start(model, source)
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)
    x = torch.rand(1, 3, 64, 64)
    levels = torch.tensor([1])
    source.eval(), model.eval()  # the context's correction starts at zero: the same rate
    assert torch.equal(model(x, levels)["y_likelihood"], source(x, levels)["y_likelihood"])
    with pytest.raises(ModelError, match="context"):
        warm_start(Hyperprior(CONFIGS["hyperprior-tiny"]), model)


def test_a_space_channel_context_added_in_training_orders_its_channels(photos, tmp_path):
    source = tmp_path / "source"
    save_model(Hyperprior(CONFIGS["hyperprior-cb-tiny"]), source, {})
    cfg = _config(photos, tmp_path / "run", steps=0, init=str(source),
                  model=CONFIGS["hyperprior-sc-tiny"])  # fmt: skip
    order = load_model(weights=train_codec(cfg)).model.context_model.order
    assert sorted(order.tolist()) == list(range(len(order)))
    assert not torch.equal(order, torch.arange(len(order)))  # most bits first, not as found


def test_starting_from_a_model_of_another_architecture_is_refused(photos, tmp_path):
    with pytest.raises(ModelError, match="another architecture"):
        init = str(ARCHIVE / "hyperprior-vr.safetensors")
        train_codec(_config(photos, tmp_path / "run", steps=0, init=init))


def test_new_lambdas_get_gains_interpolated_from_the_model_started_from(tiny_model):
    source = load_model(weights=tiny_model).model  # lambdas 0.01 and 0.1
    wider = Hyperprior(dataclasses.replace(source.config, lambdas=(0.01, 0.1**1.5, 0.1)))
    warm_start(wider, source)
    gain = source.gain.abs()
    assert torch.allclose(wider.gain[0], gain[0]) and torch.allclose(wider.gain[2], gain[1])
    assert torch.allclose(wider.gain[1], (gain[0] * gain[1]).sqrt(), rtol=1e-5)


@pytest.mark.parametrize("config", ["hyperprior-cb-tiny", "hyperprior-sc-tiny"])
def test_entropy_training_keeps_the_transforms_and_exports_a_context_model(
    photos, tmp_path, config
):
    torch.manual_seed(0)
    source = tmp_path / "source"
    save_model(Hyperprior(CONFIGS["hyperprior-tiny"]), source, {"training": {"steps": 1}})
    cfg = EntropyTrainConfig([photos], tmp_path / "run", str(source),
                             CONFIGS[config], val_dir=photos, crops=8, crop=64,
                             batch_size=2, lr=1e-3, steps=10, log_every=5)  # fmt: skip
    loaded = load_model(weights=train_entropy(cfg))
    before = load_model(weights=source).model
    assert loaded.model.context_model is not None
    if config == "hyperprior-sc-tiny":  # the channel order was set from the data: a permutation
        order = loaded.model.context_model.order
        assert sorted(order.tolist()) == list(range(len(order)))
        assert not torch.equal(order, torch.arange(len(order)))
    after = loaded.model.state_dict()
    for key, value in before.state_dict().items():
        if key.split(".")[0] in ("g_a", "g_s", "gain", "inverse_gain"):
            assert torch.equal(after[key], value), key
    training = loaded.card["training"]
    assert training["transforms"] == {"steps": 1} and training["entropy_model"]["steps"] == 10
    assert len(training["validation_bpp"]) == 2
    pixels = smooth_image(40, 60)
    weights = tmp_path / "run" / "model.safetensors"
    out = aecodec.decompress(aecodec.compress(pixels, weights=weights), weights=weights)
    assert np.asarray(out).shape == pixels.shape


def test_entropy_training_refuses_a_model_of_another_architecture(photos, tmp_path):
    save_model(Hyperprior(HyperpriorConfig(8, 12)), tmp_path / "other", {})
    cfg = EntropyTrainConfig(
        [photos],
        tmp_path / "run",
        str(tmp_path / "other"),
        CONFIGS["hyperprior-cb-tiny"],
        crops=2,
        crop=64,
        steps=1,
    )
    with pytest.raises(ModelError, match="architecture"):
        train_entropy(cfg)


def test_the_train_command_can_retrain_only_the_entropy_model(photos, tmp_path, monkeypatch):
    save_model(Hyperprior(CONFIGS["hyperprior-tiny"]), tmp_path / "source", {})
    args = ["train", photos, "--out", tmp_path / "run", "--config", "hyperprior-cb-tiny",
            "--crop", "64", "--batch-size", "2", "--steps", "3", "--entropy-only"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", ["aecodec", *map(str, args)])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 2  # --init is missing: a usage error
    monkeypatch.setattr(sys, "argv", ["aecodec", *map(str, args), "--init", tmp_path / "source"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 0
    assert load_model(weights=tmp_path / "run" / "model").model.context_model is not None


@pytest.mark.slow
@pytest.mark.parametrize("config", ["hyperprior-cb-tiny", "hyperprior-sc-tiny"])
def test_join_shards_rebuilds_the_export_of_a_device_run(tmp_path, config):
    # device_train.sh brings back float32 shards and the card; the export itself is too large.
    model = Hyperprior(CONFIGS[config])
    make_context_matter(model.context_model)  # the space-channel one: an integer order too
    exported = save_model(model, tmp_path / "gpu" / "model", {"training": {"steps": 7}})
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    keys = sorted(state)
    run = tmp_path / "back"
    run.mkdir()
    (run / "model.json").write_text(exported.with_suffix(".json").read_text())
    for i in range(3):
        save_file({k: state[k] for k in keys[i::3]}, str(run / f"fp32-{i}.safetensors"))
    script = ROOT / "recipes" / "join_shards.py"
    subprocess.run([sys.executable, script, run], check=True, capture_output=True)
    assert (run / "model.safetensors").read_bytes() == exported.read_bytes()
    assert load_model(weights=run / "model").card["training"]["steps"] == 7

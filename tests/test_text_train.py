"""Training the text model: checkpoints in safetensors and JSON, and a run that resumes."""

import json

import torch

from aecodec.text.model import TextModelConfig, load
from aecodec.text.train import TrainConfig, learning_rate, train

TINY = TextModelConfig(context=4, embed=4, hidden=16, hidden2=8)


def test_checkpoints_and_resumes(tmp_path):
    data = tmp_path / "train.txt"
    data.write_bytes(b"the cat sat on the mat; the dog sat on the log.\n" * 50)
    config = TrainConfig(batch=32, warmup=2, steps=10, eval_every=2)
    train(data, tmp_path / "run", data, config, TINY, until=3)
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["step"] == 3 and state["val_bpb"] is not None
    first, card, _ = load(tmp_path / "run" / "latest")
    assert card["config"] == {"context": 4, "embed": 4, "hidden": 16, "hidden2": 8}
    train(data, tmp_path / "run", None, TrainConfig(), TINY, until=5)
    assert json.loads((tmp_path / "run" / "state.json").read_text())["step"] == 5
    second, card, _ = load(tmp_path / "run" / "latest")
    assert card["training"]["train_config"]["steps"] == 10  # the saved schedule goes on
    assert not torch.equal(first.head.weight, second.head.weight)
    assert not list(tmp_path.glob("run/*.pt")) and not list(tmp_path.glob("run/*.pkl"))


def test_a_new_run_can_start_from_a_saved_model(tmp_path):
    data = tmp_path / "train.txt"
    data.write_bytes(b"abcabcabd " * 100)
    train(data, tmp_path / "a", None, TrainConfig(batch=16, warmup=1), TINY, until=2)
    train(data, tmp_path / "b", None, TrainConfig(), TINY, until=0, init=tmp_path / "a" / "latest")
    start, _, _ = load(tmp_path / "b" / "latest")
    trained, _, _ = load(tmp_path / "a" / "latest")
    assert torch.equal(start.head.weight, trained.head.weight)


def test_learning_rate_warms_up_then_falls_to_its_floor():
    config = TrainConfig(lr=1e-3, min_lr=1e-4, warmup=10, steps=100)
    assert learning_rate(config, 0) == 1e-4
    assert learning_rate(config, 10) == 1e-3
    assert abs(learning_rate(config, 100) - 1e-4) < 1e-12 and learning_rate(config, 500) == 1e-4

"""Rebuild a device run's model from its float32 shards.

    python recipes/join_shards.py RUN_DIR

A model of N=128, M=192 with a context is 17.8 to 18.9 MB in half precision, over the device tool's
16 MB limit per file, so `model.safetensors` stays behind on the GPU machine; the float32 weights
come back in three shards (recipes/device_train.sh). This loads them into the architecture the
card names and writes RUN_DIR/model.safetensors with the card, as the training run would have.
"""

import argparse
import json
from pathlib import Path

from safetensors.torch import load_file

from aecodec.zoo import model_from_card, save_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    run = parser.parse_args().run_dir
    card = json.loads((run / "model.json").read_text())
    model = model_from_card(card)
    state = {}
    for shard in sorted(run.glob("fp32-*.safetensors")):
        state |= load_file(shard)
    model.load_state_dict(state)  # strict: a missing shard fails here
    print(save_model(model, run / "model", card))


if __name__ == "__main__":
    main()

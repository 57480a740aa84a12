#!/usr/bin/env bash
# Trains the default variable-rate model on a lent GPU (the device tool), from a data pack in
# .devdata/ (photos re-encoded as JPEG q95 4:4:4 to fit the transfer, BSDS500 train+test, and 16
# BSDS500 val images for validation; built by recipes/make_devdata.py).
# Usage: [CONFIG=hyperprior-sc-wide] [INIT=hyperprior-sc-joint] [LR=2e-4] [RESUME=1] bash recipes/device_train.sh MINUTES OUT_DIR
# CONFIG names the architecture in aecodec.zoo.CONFIGS (default: aecodec.zoo.DEFAULT_CONFIG, the
# default model's).
# INIT continues from a shipped model's weights (they travel with the repo); RESUME continues
# from /tmp/run/checkpoint.pt on a machine that is still warm.
set -u
minutes=${1:-7}; out=${2:-$OUT}
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null
# Copy the latest export out every 30 s, so a run cut short still returns a model.
(while sleep 30; do cp /tmp/run/model.* /tmp/run/log.csv "$out/" 2>/dev/null; done) &
copier=$!
timeout $(python3 -c "print(int($minutes * 60 + 90))") python3 - "$minutes" <<'PY' 2>&1 | tee "$out/train.log"
import os, sys
from pathlib import Path
from aecodec.train.codec import TrainConfig, train_codec
from aecodec.zoo import CONFIGS, DEFAULT_CONFIG
cfg = TrainConfig(
    model=CONFIGS[os.environ.get("CONFIG") or DEFAULT_CONFIG],
    train_dirs=[Path(".devdata/photos"), Path(".devdata/bsds500")], val_dir=Path(".devdata/val"),
    out_dir=Path("/tmp/run"), crop=256, batch_size=16, lr=float(os.environ.get("LR") or 2e-4),
    minutes=float(sys.argv[1]), steps=10**7, checkpoint_minutes=1.5, val_every=2000, log_every=250, seed=0,
    resume=os.environ.get("RESUME") == "1", init=os.environ.get("INIT") or None,
)
print(cfg)
train_codec(cfg)
PY
kill $copier
cp /tmp/run/model.safetensors /tmp/run/model.json /tmp/run/log.csv "$out/" 2>/dev/null
# The float32 weights too, in three shards under the 16 MB transfer limit (model.safetensors of a
# context model is over it): recipes/join_shards.py rebuilds the model from them.
python3 - "$out" <<'PY'
import sys, torch
from safetensors.torch import save_file
state = torch.load("/tmp/run/checkpoint.pt", map_location="cpu", weights_only=True)
print("checkpoint step", state["step"], "elapsed", round(state["elapsed"]))
model = {k: v.contiguous() for k, v in state["model"].items()}
shards = [{}, {}, {}]
for k in sorted(model, key=lambda k: -model[k].numel()):  # greedy balance by size
    min(shards, key=lambda s: sum(v.numel() for v in s.values()))[k] = model[k]
for i, shard in enumerate(shards):
    save_file(shard, f"{sys.argv[1]}/fp32-{i}.safetensors", {"step": str(state["step"])})
PY
ls -la "$out"

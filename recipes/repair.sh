#!/usr/bin/env bash
# Trains the shipped repair model (aecodec/restore/weights/repair-unet): a gated-convolution U-Net
# (RepairConfig's defaults: widths 32,64,96,128, dilations 2,4) on random 128x128 crops of
# ../shared/data/photos and ../shared/data/bsds500 train + test (never Kodak or BSDS500 val),
# batch 8, Adam at 7e-4 with tenfold drops at 75 % and 93 % of a 42-minute budget, one CPU thread
# (or a GPU when there is one), holes of all four kinds of aecodec/restore/repair/masks.py.
#
# Run it from the repository root. Re-running the same command resumes from OUT/checkpoint.pt;
# on a new machine it resumes from checkpoints/repair/checkpoint.pt (the model, step, time and
# crop sampler, without Adam's moments). Then ship and measure:
#   bash recipes/repair.sh ship
#   python bench/repair.py --card aecodec/restore/weights/repair-unet.json
set -eu
out=${OUT:-$HOME/runs/repair}
train=(python -m aecodec.restore.repair.train --out "$out" --minutes 42 --batch 8 --crop 128
       --lr 7e-4 --seed 0 --threads 1 --checkpoint-minutes 5 --portable checkpoints/repair)
if [ "${1:-}" = ship ]; then
  mkdir -p aecodec/restore/weights
  exec python -m aecodec.restore.repair.train --out "$out" \
    --ship aecodec/restore/weights/repair-unet --recipe "bash recipes/repair.sh"
fi
mkdir -p "$out"
exec "${train[@]}"

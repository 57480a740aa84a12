#!/usr/bin/env bash
# Trains the repair model: a gated-convolution U-Net (RepairConfig's defaults: widths 32,64,96,128,
# dilations 2,4, on top of a multigrid smooth fill) on random 128x128 crops of
# ../shared/data/photos and ../shared/data/bsds500 train + test (never Kodak or BSDS500 val),
# batch 8, squared error over the holes, Adam at 2e-4 with the gradient's norm clipped at 1 and
# tenfold drops at 75 % and 93 % of a 15-hour budget, one CPU thread (or a GPU when there is one),
# holes of all four kinds of aecodec/restore/repair/masks.py. The log (OUT/log.csv) gives the
# network's gain over its smooth fill on held-out crops every 1000 steps.
#
#   bash recipes/repair.sh            # train (re-running it resumes from $OUT/checkpoint.safetensors)
#   bash recipes/repair.sh ship       # write the latest checkpoint as the shipped model + card
#   python bench/repair.py --card aecodec/restore/weights/repair-unet.json   # measure, record
#
# On a new machine training resumes from checkpoints/repair-mse/checkpoint.safetensors (the model,
# step, time and crop sampler, without Adam's moments, which start afresh). The shipped
# repair-unet came from an earlier version of this recipe (L1 at 7e-4; its card and git history).
set -eu
out=${OUT:-$HOME/runs/repair-mse}
train=(python -m aecodec.restore.repair.train --out "$out" --batch 8 --crop 128 --seed 0
       --threads 1 --checkpoint-minutes 10 --portable checkpoints/repair-mse)
case "${1:-}" in
  ship) mkdir -p aecodec/restore/weights
        exec python -m aecodec.restore.repair.train --out "$out" \
             --ship aecodec/restore/weights/repair-unet --recipe "bash recipes/repair.sh" ;;
  *) mkdir -p "$out"
     exec "${train[@]}" --minutes 900 --lr 2e-4 --loss mse --clip 1.0 ;;
esac

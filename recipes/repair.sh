#!/usr/bin/env bash
# Trains the shipped repair model (aecodec/restore/weights/repair-unet): a gated-convolution U-Net
# (RepairConfig's defaults: widths 32,64,96,128, dilations 2,4, on top of a multigrid smooth fill)
# on random 128x128 crops of ../shared/data/photos and ../shared/data/bsds500 train + test (never
# Kodak or BSDS500 val), batch 8, Adam at 7e-4 with tenfold drops at 75 % and 93 % of a 42-minute
# budget, one CPU thread (or a GPU when there is one), holes of all four kinds of
# aecodec/restore/repair/masks.py.
#
#   bash recipes/repair.sh            # train (re-running it resumes from $OUT/checkpoint.safetensors)
#   bash recipes/repair.sh ship       # write the latest checkpoint as the shipped model + card
#   bash recipes/repair.sh more       # a second stage: carry on at 7e-5 up to 100 minutes in all
#   bash recipes/repair.sh ship-more  # ship after the second stage (its card names both stages)
#   python bench/repair.py --card aecodec/restore/weights/repair-unet.json   # measure, record
#
# On a new machine training resumes from checkpoints/repair/checkpoint.safetensors (the model, step, time
# and crop sampler, without Adam's moments, which start afresh).
set -eu
out=${OUT:-$HOME/runs/repair}
train=(python -m aecodec.restore.repair.train --out "$out" --batch 8 --crop 128 --seed 0
       --threads 1 --checkpoint-minutes 5 --portable checkpoints/repair)
ship=(python -m aecodec.restore.repair.train --out "$out" --ship aecodec/restore/weights/repair-unet)
case "${1:-}" in
  ship) mkdir -p aecodec/restore/weights
        exec "${ship[@]}" --recipe "bash recipes/repair.sh" ;;
  ship-more) mkdir -p aecodec/restore/weights
        exec "${ship[@]}" --recipe "bash recipes/repair.sh && bash recipes/repair.sh more" ;;
  more) exec "${train[@]}" --minutes 100 --lr 7e-5 ;;
  *) mkdir -p "$out"
     exec "${train[@]}" --minutes 42 --lr 7e-4 ;;
esac

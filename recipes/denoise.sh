#!/usr/bin/env sh
# Trains the shipped denoiser (denoise-rgb): an FFDNet-style colour network, 12 3x3 convolutions
# of 64 channels at half resolution, on random 64x64 crops of ../shared/data/photos and BSDS500
# train + test (never Kodak or BSDS500 val), Gaussian noise of 0 to 75 levels, a quarter of the
# crops gray. One thread on a CPU, or the GPU when there is one.
#
# Usage: sh recipes/denoise.sh [MINUTES]      (run from the repository root)
#   OUT=~/runs/denoise   the run's folder: run the same command again to resume it
#   FROM=checkpoints/denoise   start OUT from the committed checkpoint (a new machine)
#   DATA=../shared/data
#   LR=1e-4              the base learning rate (default 1e-3; a resumed run keeps its own)
#   THREADS=1            CPU threads
#   STEPS=N              the schedule's length in steps instead (MINUTES then only if given)
# The learning rate is LR, then LR/10 after 75 % and LR/100 after 93 % of MINUTES of training.
# The shipped model: MINUTES=50 on one thread; then the same run resumed with LR=5e-4 THREADS=2
# and MINUTES=180 (the schedule's length in all), and from step 11,157 with MINUTES=270 (its card
# says: steps, hours and the recipe of the checkpoint shipped). Ship with
#   python -m aecodec.restore.denoise.train --out "$OUT" --ship denoise-rgb
set -eu
minutes=${1:-}
if [ -z "$minutes" ] && [ -z "${STEPS:-}" ]; then minutes=50; fi
out=${OUT:-$HOME/runs/denoise}
data=${DATA:-../shared/data}
mkdir -p "$out"
if [ -n "${FROM:-}" ] && [ ! -e "$out/state.json" ]; then
  cp "$FROM"/* "$out/"
fi
exec nice -n 19 python -m aecodec.restore.denoise.train --out "$out" ${minutes:+--minutes "$minutes"} \
  ${STEPS:+--steps "$STEPS"} --threads "${THREADS:-1}" ${LR:+--lr "$LR"} --data "$data/photos" "$data/bsds500/train" "$data/bsds500/test"

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
# The learning rate is 1e-3, then 1e-4 after 75 % and 1e-5 after 93 % of MINUTES of training;
# resuming with a larger MINUTES restarts it at 1e-3 until 75 % of the new length.
# The shipped model: MINUTES=50, then the same run resumed with MINUTES=110 (its card says how
# far it got: steps and hours, and the recipe of that checkpoint). Ship with
#   python -m aecodec.restore.denoise.train --out "$OUT" --ship denoise-rgb
set -eu
minutes=${1:-50}
out=${OUT:-$HOME/runs/denoise}
data=${DATA:-../shared/data}
mkdir -p "$out"
if [ -n "${FROM:-}" ] && [ ! -e "$out/state.json" ]; then
  cp "$FROM"/* "$out/"
fi
exec nice -n 19 python -m aecodec.restore.denoise.train --out "$out" --minutes "$minutes" \
  --data "$data/photos" "$data/bsds500/train" "$data/bsds500/test"

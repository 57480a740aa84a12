"""Training: image data, the rate-distortion loop, checkpoints, distributed set-up."""

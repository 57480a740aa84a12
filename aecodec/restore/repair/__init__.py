"""Repair (inpainting): fill the masked pixels of a photo with a trained gated-convolution U-Net."""

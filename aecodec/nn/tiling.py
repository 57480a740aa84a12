"""Run a convolutional transform tile by tile, so memory stays bounded on large images.

Each tile is extended by a margin of real neighbouring samples before the transform and cropped
after it. The margin exceeds the transform's receptive-field radius, so every kept output sees
exactly the inputs it would see in whole-image processing: results equal the whole-image ones up
to floating-point summation order (about 1e-6 relative).
"""

from torch import Tensor, nn


def tiled(transform: nn.Module, x: Tensor, scale: float, tile: int, margin: int) -> Tensor:
    """Apply `transform` (output size = input size * scale) over tiles of `tile` input samples.

    `tile` and `margin` are in input samples and must map to whole output samples."""
    _, _, h, w = x.shape
    # Whole when at most a quarter over one tile's area (768x512 is): the margins of two tiles
    # would cost more time than that much memory.
    if h * w <= (tile + 2 * margin) ** 2 * 5 // 4:
        return transform(x)
    out = None  # made when the first tile tells its channels and type: no list of tiles to join
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            t0, l0 = max(top - margin, 0), max(left - margin, 0)
            t1, l1 = min(top + tile + margin, h), min(left + tile + margin, w)
            part = transform(x[:, :, t0:t1, l0:l1])
            if out is None:
                size = (round(h * scale), round(w * scale))
                out = part.new_empty((*part.shape[:2], *size))
            keep_t, keep_l = round((top - t0) * scale), round((left - l0) * scale)
            out_t, out_l = round(top * scale), round(left * scale)
            keep_h = round((min(top + tile, h) - top) * scale)
            keep_w = round((min(left + tile, w) - left) * scale)
            out[:, :, out_t : out_t + keep_h, out_l : out_l + keep_w] = part[
                :, :, keep_t : keep_t + keep_h, keep_l : keep_l + keep_w
            ]
    return out

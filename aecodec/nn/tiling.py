"""Run a convolutional transform tile by tile, so memory stays bounded on large images.

Each tile is extended by a margin of real neighbouring samples before the transform and cropped
after it. The margin exceeds the transform's receptive-field radius, so every kept output sees
exactly the inputs it would see in whole-image processing: results equal the whole-image ones up
to floating-point summation order (about 1e-6 relative).
"""

from collections.abc import Iterator
from typing import NamedTuple

from torch import Tensor, nn


class Window(NamedTuple):
    """A tile and the margin around it, in input samples."""

    rows: slice  # the window: the tile and up to `margin` samples on each side
    cols: slice
    tile_rows: slice  # the tile within the window
    tile_cols: slice


def windows(h: int, w: int, tile: int, margin: int) -> Iterator[Window]:
    """The windows of tiles of `tile` samples over h x w samples, row after row; one window of
    it all when that is at most a quarter over one window's area (768x512 pixels is, for the
    synthesis): the margins of two tiles would cost more time than that much memory."""
    if h * w <= (tile + 2 * margin) ** 2 * 5 // 4:
        yield Window(slice(0, h), slice(0, w), slice(0, h), slice(0, w))
        return
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            t0, l0 = max(top - margin, 0), max(left - margin, 0)
            t1, l1 = min(top + tile + margin, h), min(left + tile + margin, w)
            keep_h, keep_w = min(top + tile, h) - top, min(left + tile, w) - left
            yield Window(
                slice(t0, t1), slice(l0, l1),
                slice(top - t0, top - t0 + keep_h), slice(left - l0, left - l0 + keep_w),
            )  # fmt: skip


def tiled(transform: nn.Module, x: Tensor, scale: float, tile: int, margin: int) -> Tensor:
    """Apply `transform` (output size = input size * scale) over tiles of `tile` input samples.

    `tile` and `margin` are in input samples and must map to whole output samples."""
    _, _, h, w = x.shape
    out = None  # made when the first tile tells its channels and type: no list of tiles to join
    for window in windows(h, w, tile, margin):
        if window.rows == slice(0, h) and window.cols == slice(0, w):
            return transform(x)
        part = transform(x[:, :, window.rows, window.cols])
        if out is None:
            out = part.new_empty((*part.shape[:2], round(h * scale), round(w * scale)))
        rows, cols = window.tile_rows, window.tile_cols
        at_row, at_col = window.rows.start + rows.start, window.cols.start + cols.start
        out[:, :, _scaled(at_row, rows, scale), _scaled(at_col, cols, scale)] = part[
            :, :, _scaled(rows.start, rows, scale), _scaled(cols.start, cols, scale)
        ]
    return out


def _scaled(start: int, run: slice, scale: float) -> slice:
    """The output samples of `run`'s length of input samples placed at input sample `start`."""
    first = round(start * scale)
    return slice(first, first + round((run.stop - run.start) * scale))

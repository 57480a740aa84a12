"""Seeded hole masks of four kinds, shared by training and the benchmark (True = fill).

- scratches: thin curved lines, 1 to 3 pixels wide, running across the picture, as on a scanned
  print; 0.5 to 4 % of the pixels.
- irregular 10-20 % and 20-30 %: free-form brush strokes (Yu et al. 2019) 8 to 28 pixels wide,
  added until the covered fraction reaches a target drawn in the range.
- boxes: 64x64 squares at random places, one per 256x256 pixels of picture (at least one).

Sizes are in pixels, not fractions of the picture, so a 128-pixel training crop and a 768x512
Kodak image see holes of the same widths. Every generator takes a numpy Generator: one seed gives
the same masks on every machine.
"""

import math
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

MaskMaker = Callable[[int, int, np.random.Generator], np.ndarray]

SCRATCH_COVER = (0.005, 0.04)
BOX = 64


def scratches(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Long thin curves (quadratic Béziers between two points on the border, bent at random)."""
    target = rng.uniform(*SCRATCH_COVER)
    return _until_covered(h, w, target, SCRATCH_COVER[1], rng, _scratch)


def irregular(low: float, high: float) -> MaskMaker:
    """A maker of brush-stroke masks covering between `low` and `high` of the pixels."""

    def make(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        return _until_covered(h, w, rng.uniform(low, high), high, rng, _stroke)

    return make


def boxes(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """64x64 squares (clipped to smaller pictures), one per 256x256 pixels of picture."""
    mask = np.zeros((h, w), bool)
    side_h, side_w = min(BOX, h), min(BOX, w)
    for _ in range(max(1, round(h * w / 256**2))):
        top, left = rng.integers(0, h - side_h + 1), rng.integers(0, w - side_w + 1)
        mask[top : top + side_h, left : left + side_w] = True
    return mask


KINDS: dict[str, MaskMaker] = {
    "scratches": scratches,
    "irregular 10-20%": irregular(0.10, 0.20),
    "irregular 20-30%": irregular(0.20, 0.30),
    "boxes 64x64": boxes,
}


def mixed(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A mask of a kind drawn uniformly among KINDS (what training sees)."""
    return list(KINDS.values())[rng.integers(len(KINDS))](h, w, rng)


Painter = Callable[[ImageDraw.ImageDraw, int, int, np.random.Generator], None]


def _until_covered(
    h: int, w: int, target: float, high: float, rng: np.random.Generator, paint: Painter
) -> np.ndarray:
    """Paint shapes one at a time until `target` of the pixels is covered; a shape that would
    take the cover over `high` is undone and drawn again (thinner shapes fit in the end)."""
    canvas = Image.new("1", (w, h))
    cover = 0.0
    for _ in range(1000):
        trial = canvas.copy()
        paint(ImageDraw.Draw(trial), h, w, rng)
        trial_cover = np.count_nonzero(np.asarray(trial)) / (h * w)
        if trial_cover <= high:
            canvas, cover = trial, trial_cover
        if cover >= target:
            break
    return np.asarray(canvas, dtype=bool).copy()


def _scratch(draw: ImageDraw.ImageDraw, h: int, w: int, rng: np.random.Generator) -> None:
    (y0, x0), (y1, x1) = _border_point(h, w, rng), _border_point(h, w, rng)
    bend_y, bend_x = rng.uniform(0, h), rng.uniform(0, w)
    t = np.linspace(0, 1, 64)[:, None]
    points = (1 - t) ** 2 * [x0, y0] + 2 * t * (1 - t) * [bend_x, bend_y] + t**2 * [x1, y1]
    draw.line([tuple(p) for p in points], fill=1, width=int(rng.integers(1, 4)))


def _border_point(h: int, w: int, rng: np.random.Generator) -> tuple[float, float]:
    side, at = rng.integers(4), rng.uniform()
    return [(0, at * w), (h - 1, at * w), (at * h, 0), (at * h, w - 1)][side]


def _stroke(draw: ImageDraw.ImageDraw, h: int, w: int, rng: np.random.Generator) -> None:
    """A free-form brush stroke: a random walk of 4 to 12 segments, round joints and ends."""
    width = int(rng.integers(8, 29))
    y, x = rng.uniform(0, h), rng.uniform(0, w)
    angle = rng.uniform(0, 2 * math.pi)
    points = [(x, y)]
    for _ in range(rng.integers(4, 13)):
        angle += rng.uniform(-math.pi / 2, math.pi / 2)
        length = rng.uniform(10, 40)
        x = float(np.clip(x + length * math.cos(angle), 0, w - 1))
        y = float(np.clip(y + length * math.sin(angle), 0, h - 1))
        points.append((x, y))
    draw.line(points, fill=1, width=width, joint="curve")
    r = width / 2
    for px, py in (points[0], points[-1]):
        draw.ellipse((px - r, py - r, px + r, py + r), fill=1)

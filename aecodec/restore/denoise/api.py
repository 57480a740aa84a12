"""Removing Gaussian noise from photos: `denoise(image, sigma=None)`.

The image comes back in the layout it came in (L stays L, RGB stays RGB, alpha and metadata
kept). Gray images (L, LA, or RGB with three equal channels) go to the gray model when one is
installed; colour images to the colour model. Without `sigma` the noise level is estimated from
the image (aecodec.restore.denoise.noise). Large images run tile by tile with a margin beyond the
network's reach, so the result equals the whole-image one.

`passes` above 1 averages the network's results on flipped and transposed copies of the image
(a geometric self-ensemble): its errors differ between copies while the picture does not, so
the mean is closer to the clean image, at `passes` times the time.
"""

import numbers
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from aecodec.errors import AecodecError, ModelError
from aecodec.image import Picture, read_picture, to_pil
from aecodec.nn.tiling import tiled
from aecodec.restore.denoise.model import Denoiser, load
from aecodec.restore.denoise.noise import estimate_sigma
from aecodec.restore.zoo import DENOISERS

DEFAULT_MODEL = "denoise-rgb"
DEFAULT_GRAY_MODEL = "denoise-gray"
MAX_SIGMA = 75.0  # the highest level the shipped models were trained on, in 8-bit levels
TILE = 512  # full-resolution pixels per tile side (even, as the network works on 2x2 blocks)
PASSES = (1, 2, 4, 8)  # the self-ensemble's sizes: identity, then flips, then transpositions
DEFAULT_PASSES = 2  # +0.1 dB for twice the time: a Kodak image in under 2 s on two cores


def denoise(
    image: str | Path | Image.Image | np.ndarray,
    sigma: float | None = None,
    *,
    model: str | None = None,
    weights: str | Path | None = None,
    passes: int = DEFAULT_PASSES,
) -> Image.Image:
    """`image` (a path, PIL image or array, as aecodec.image.read_picture takes) without its
    Gaussian noise of `sigma` 8-bit levels (0 to 75; None: estimated from the image).

    `model` names an installed denoiser (`aecodec models`), `weights` a .safetensors file; by
    default the shipped colour model, or the gray one for gray images. `passes` (1, 2, 4 or 8)
    runs the network on that many flipped or transposed copies and averages them: a little
    closer to the clean image, `passes` times slower."""
    picture = read_picture(image)
    return denoise_picture(picture, sigma, model=model, weights=weights, passes=passes)[0]


def denoise_picture(
    picture: Picture,
    sigma: float | None = None,
    *,
    model: str | None = None,
    weights: str | Path | None = None,
    passes: int = DEFAULT_PASSES,
) -> tuple[Image.Image, float]:
    """The denoised image and the noise level used (given, or estimated)."""
    passes = check_passes(passes)
    gray = picture.layout in ("L", "LA") or _equal_channels(picture.rgb)
    network = load_denoiser(model, weights, gray)
    planes = picture.rgb[..., :1] if gray else picture.rgb
    if sigma is None:
        sigma = min(estimate_sigma(planes), MAX_SIGMA)
    else:
        sigma = check_sigma(sigma)
    clean = run(network, planes, sigma, passes=passes)
    rgb = np.repeat(clean, 3 // clean.shape[2], axis=2)
    return to_pil(rgb, picture.alpha, picture.layout, picture.metadata), sigma


def check_sigma(sigma: float) -> float:
    """`sigma` as a float, or AecodecError when it is not a level the models know."""
    try:
        value = float(sigma)
    except (TypeError, ValueError):
        raise AecodecError(f"sigma must be a number of 8-bit levels, not {sigma!r}") from None
    if not 0 <= value <= MAX_SIGMA:  # also refuses NaN
        raise AecodecError(f"sigma must be between 0 and {MAX_SIGMA:g} levels, not {sigma}")
    return value


def check_passes(passes: int) -> int:
    """`passes` as an int, or AecodecError when it is not a self-ensemble size."""
    if not isinstance(passes, numbers.Integral) or isinstance(passes, bool) or passes not in PASSES:
        raise AecodecError(f"passes must be one of {', '.join(map(str, PASSES))}, not {passes!r}")
    return int(passes)


def load_denoiser(
    model: str | None = None, weights: str | Path | None = None, gray: bool = False
) -> Denoiser:
    """The network from `weights`, else the installed model `model`, else the default one for
    colour or gray images (the colour model when no gray model is installed)."""
    if weights is None:
        if model is None:
            available = DENOISERS.available()
            gray_model = gray and DEFAULT_GRAY_MODEL in available
            model = DEFAULT_GRAY_MODEL if gray_model else DEFAULT_MODEL
        weights = DENOISERS.find(model)
    # channels last: oneDNN runs this network about a sixth faster in that layout (alone, 2 cores)
    return load(weights)[0].to(memory_format=torch.channels_last)


@torch.inference_mode()
def run(
    network: Denoiser, planes: np.ndarray, sigma: float, tile: int = TILE, passes: int = 1
) -> np.ndarray:
    """(H, W, C) uint8 planes denoised at level `sigma` as (H, W, C) uint8, the mean of
    `passes` flipped or transposed runs. A gray network takes colour planes one at a time; a
    colour network takes gray planes replicated."""
    passes = check_passes(passes)
    channels = network.config.channels
    if channels == 1 and planes.shape[2] == 3:
        return np.concatenate([run(network, planes[..., i : i + 1], sigma, tile, passes)
                               for i in range(3)], axis=2)  # fmt: skip
    if channels not in (1, 3):
        raise ModelError(f"a denoiser of {channels} channels cannot take images")
    x = torch.from_numpy(np.ascontiguousarray(planes)).permute(2, 0, 1)[None].float() / 255
    x = x.expand(-1, channels, -1, -1) if x.shape[1] != channels else x
    h, w = x.shape[2:]
    x = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")  # whole 2x2 blocks
    level = torch.tensor([sigma / 255])
    margin = 2 * (network.config.radius // 2 + 1)  # even, past the network's reach
    y = tiled(lambda t: _ensemble(network, t, level, passes), x, 1.0, tile, margin)[..., :h, :w]
    y = y.mean(dim=1, keepdim=True) if planes.shape[2] == 1 else y
    return (y[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def _ensemble(network: Denoiser, x: Tensor, level: Tensor, passes: int) -> Tensor:
    """The mean of the network's results on the first `passes` of the eight flips and
    transpositions of x, each turned back."""
    total = network(x, level)
    for k in range(1, passes):
        dims = [dim for dim, bit in ((3, 1), (2, 2)) if k & bit]
        turned = x.flip(dims) if dims else x
        turned = turned.transpose(2, 3) if k & 4 else turned
        y = network(turned, level)
        y = y.transpose(2, 3) if k & 4 else y
        total += y.flip(dims) if dims else y
    return total / passes


def _equal_channels(rgb: np.ndarray) -> bool:
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())

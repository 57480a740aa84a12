"""repair(image, mask): fill the masked pixels of a photo with the trained repair network.

The whole image goes through the network at once up to WHOLE_PIXELS (5 megapixels, about 2 GB of
memory); larger images are processed in 1536-pixel tiles with 256-pixel margins of real
neighbouring pixels, so holes narrower than the margins are filled as they would be in one piece
(wider ones may differ a little along tile edges).
"""

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from aecodec.errors import ModelError, UnsupportedImage
from aecodec.image import read_picture, to_pil
from aecodec.nn.tiling import tiled
from aecodec.registry import load_state, read
from aecodec.restore.repair.model import RepairConfig, RepairNet
from aecodec.restore.zoo import REPAIRERS

DEFAULT_MODEL = "repair-unet"
WHOLE_PIXELS = 5_000_000
TILE, MARGIN = 1536, 256  # tiles beyond WHOLE_PIXELS; MARGIN is a multiple of every stride

Source = str | Path | Image.Image | np.ndarray


def repair(
    image: Source,
    mask: Source | None = None,
    *,
    model: str | RepairNet | None = None,
    weights: str | Path | None = None,
) -> Image.Image:
    """`image` with the pixels under `mask` filled in; every other pixel exactly as given.

    `image` and `mask` are paths, PIL images or arrays. In a mask image, white (at least 128 of
    255) marks the pixels to fill; in a mask array, any nonzero value. Without a mask, the
    image's transparent pixels (alpha under 128) are filled and the result is opaque. The result
    keeps the image's layout (gray stays gray), its alpha where a mask was given, and its
    metadata. UnsupportedImage for a mask of another size, one with nothing to fill or one
    that covers every pixel; ModelError for unknown or unfit weights.
    """
    picture = read_picture(image)
    name = _name(image, "the image")
    alpha, layout = picture.alpha, picture.layout
    if mask is None:
        if alpha is None:
            raise UnsupportedImage(
                f"{name} has no transparent pixels to fill; give a mask (white = fill)"
            )
        holes = alpha < 128
        alpha, layout = None, layout.removesuffix("A")
        mask_name = f"the transparent pixels of {name}"
    else:
        holes = _read_mask(mask)
        mask_name = _name(mask, "the mask")
    _check_mask(holes, mask_name, picture.rgb.shape[:2])
    net = _model(model, weights)
    rgb = fill(net, picture.rgb, holes)
    return to_pil(rgb, alpha, layout, picture.metadata)


@torch.no_grad()
def fill(net: RepairNet, rgb: np.ndarray, holes: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 with the pixels where `holes` is True filled by `net`; the rest as given."""
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float().div(255)
    m = torch.from_numpy(holes)[None, None].float()
    h, w = holes.shape
    joined = torch.cat([x, m], dim=1)
    if h * w <= WHOLE_PIXELS:
        y = _padded(net, joined)
    else:
        y = tiled(lambda t: _padded(net, t), joined, 1.0, TILE, MARGIN)
    out = (y[0].permute(1, 2, 0) * 255).round().clamp(0, 255).to(torch.uint8).numpy()
    return np.where(holes[..., None], out, rgb)


def _padded(net: RepairNet, joined: torch.Tensor) -> torch.Tensor:
    """The network's fill of (1, 4, H, W) image + mask, padded to its stride by replicating the
    border (known pixels, so the padding never asks for more filling)."""
    h, w = joined.shape[-2:]
    s = net.stride
    padded = F.pad(joined, (0, -w % s, 0, -h % s), mode="replicate")
    x, m = padded[:, :3], padded[:, 3:]
    return net.fill(x, m)[..., :h, :w]


def _read_mask(mask: Source) -> np.ndarray:
    if isinstance(mask, np.ndarray) and mask.dtype.kind in "biuf":
        array = mask[..., 0] if mask.ndim == 3 and mask.shape[2] == 1 else mask
        if array.ndim == 3:
            array = array.any(axis=2)
        if array.ndim != 2:
            raise UnsupportedImage(f"the mask array has shape {mask.shape}; expected (H, W)")
        return array != 0
    picture = read_picture(mask)
    white = picture.rgb.max(axis=2) >= 128
    return white & (picture.alpha >= 128) if picture.alpha is not None else white


def _check_mask(holes: np.ndarray, name: str, size: tuple[int, int]) -> None:
    if holes.shape != size:
        (mh, mw), (h, w) = holes.shape, size
        raise UnsupportedImage(f"{name} is {mw}x{mh} but the image is {w}x{h}; they must match")
    if not holes.any():
        raise UnsupportedImage(f"{name} marks no pixel to fill (white = fill)")
    if holes.all():
        raise UnsupportedImage(f"{name} covers every pixel: nothing is left to fill from")


def _name(source: Source, default: str) -> str:
    if isinstance(source, str | Path):
        return str(source)
    if isinstance(source, Image.Image) and getattr(source, "filename", ""):
        return source.filename
    return default + (" array" if isinstance(source, np.ndarray) else "")


def _model(model: str | RepairNet | None, weights: str | Path | None) -> RepairNet:
    if isinstance(model, RepairNet):
        return model.eval()
    if weights is not None:
        return load_repairer(Path(weights))
    return load_repairer(REPAIRERS.find(model or DEFAULT_MODEL))


@lru_cache(maxsize=4)
def load_repairer(path: Path) -> RepairNet:
    """The repair network stored at `path` (.safetensors with its card), ready for inference."""
    stored = read(path)
    if stored.card.get("family") != "repairer":
        family = stored.card.get("family")
        raise ModelError(f"{path} holds a {family!r} model, not a repair model ('repairer')")
    try:
        net = RepairNet(RepairConfig(**stored.card["config"]))
    except (TypeError, ValueError) as error:
        message = f"{path} has a card whose config does not build a repairer: {error}"
        raise ModelError(message) from None
    load_state(net, stored.state)
    return net.eval()

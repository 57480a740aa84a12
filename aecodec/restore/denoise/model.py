"""The denoising network: FFDNet (Zhang, Zuo and Zhang, "FFDNet: Toward a fast and flexible
solution for CNN based image denoising", IEEE TIP 2018), residual variant.

The image is rearranged into four half-resolution sub-images (pixel unshuffle), a noise-level map
joins them as one more channel, a stack of 3x3 convolutions with ReLU runs at half resolution (a
quarter of the cost of full resolution for the same receptive field) and predicts the noise,
which is subtracted from the input. The noise-level map is what makes one network serve every
sigma, and lets the user turn denoising up or down.

Unlike FFDNet, the middle convolutions come in residual pairs (x + conv(relu(conv(x))), the
second conv starting at zero) instead of with batch normalisation: on this project's CPU budget
a plain stack of 12 convolutions without normalisation had not started to learn after 200 steps,
batch normalisation doubled the cost of a step, and the residual pairs learn from the first
steps at no extra cost.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save as save_torch
from torch import Tensor, nn

from aecodec.errors import ModelError
from aecodec.files import atomic_write
from aecodec.registry import load_state, read


@dataclass(frozen=True)
class DenoiserConfig:
    channels: int = 3  # 3 for colour, 1 for gray
    width: int = 64  # feature channels of the hidden layers
    depth: int = 12  # 3x3 convolutions in all: a head, (depth - 2) / 2 residual blocks, a tail

    @property
    def radius(self) -> int:
        """Receptive-field radius in full-resolution pixels: one half-res pixel per layer."""
        return 2 * self.depth + 1


class ResidualBlock(nn.Module):
    """conv-ReLU-conv plus the input: the identity path keeps a deep stack trainable without
    normalisation layers; the second conv starts at zero, so the block starts as the identity."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        nn.init.kaiming_normal_(self.conv1.weight, nonlinearity="relu")
        nn.init.zeros_(self.conv1.bias)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class Denoiser(nn.Module):
    def __init__(self, config: DenoiserConfig) -> None:
        super().__init__()
        if config.depth < 2 or config.depth % 2:
            raise ValueError(f"depth must be an even number of convolutions, not {config.depth}")
        self.config = config
        c, w = config.channels, config.width
        self.head = nn.Conv2d(4 * c + 1, w, 3, padding=1)
        self.blocks = nn.Sequential(*[ResidualBlock(w) for _ in range((config.depth - 2) // 2)])
        self.tail = nn.Conv2d(w, 4 * c, 3, padding=1)
        nn.init.kaiming_normal_(self.head.weight, nonlinearity="relu")
        nn.init.zeros_(self.head.bias)
        nn.init.normal_(self.tail.weight, std=1e-3)  # near the identity: the noisy input itself
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
        """x: (B, C, H, W) in [0, 1], H and W even; sigma: (B,) noise levels on the same scale.
        Returns the denoised image (not clamped)."""
        half = F.pixel_unshuffle(x - 0.5, 2)  # centred: no normalisation layers to do it
        level = sigma.view(-1, 1, 1, 1).to(half).expand(-1, 1, *half.shape[2:])
        features = F.relu(self.head(torch.cat([half, level], dim=1)))
        noise = F.pixel_shuffle(self.tail(F.relu(self.blocks(features))), 2)
        return x - noise


FAMILY = "denoiser"


def save(model: Denoiser, path: Path, card: dict) -> None:
    """`path`.safetensors (float32 weights) and `path`.json (the card, config included); each
    file written atomically, so a reader (or a kill) never sees half a checkpoint file."""
    path = Path(path)
    tensors = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    card = {**card, "family": FAMILY, "architecture": "ffdnet", "config": asdict(model.config)}
    atomic_write(path.with_name(path.name + ".safetensors"), save_torch(tensors), force=True)
    text = json.dumps(card, indent=2) + "\n"
    atomic_write(path.with_name(path.name + ".json"), text.encode(), force=True)


def load(weights: str | Path) -> tuple[Denoiser, dict]:
    """The model stored at `weights` (.safetensors, card beside it), in eval mode, and its card;
    ModelError when the card is not a denoiser's or the weights do not fit it."""
    stored = read(weights)
    if stored.card.get("family") != FAMILY:
        raise ModelError(f"{weights} is not a denoising model (its card's family is "
                         f"{stored.card.get('family')!r})")  # fmt: skip
    try:
        model = Denoiser(DenoiserConfig(**stored.card["config"]))
    except (TypeError, ValueError) as error:
        raise ModelError(f"{weights}: the card's config is not a denoiser's: {error}") from None
    load_state(model, stored.state)
    return model.eval(), stored.card

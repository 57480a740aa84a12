"""Training images held in memory as uint8 tensors, sampled as random flipped crops."""

from pathlib import Path

import torch
from torch import Tensor

from aecodec.image import read_rgb


def load_rgb(path: Path) -> Tensor:
    """An image file as a (3, H, W) uint8 tensor, read as the codec reads it."""
    return torch.from_numpy(read_rgb(path)).permute(2, 0, 1).contiguous()


class CropSampler:
    """Random crops with random horizontal flips, drawn with its own generator (seeded)."""

    def __init__(self, images: list[Tensor], size: int, seed: int, device: str = "cpu") -> None:
        self.images = [img for img in images if min(img.shape[1:]) >= size]
        if not self.images:
            raise ValueError(f"no training image is at least {size}x{size} pixels")
        self.images = [img.to(device) for img in self.images]
        self.size = size
        self.device = device
        self.generator = torch.Generator().manual_seed(seed)

    def batch(self, batch_size: int) -> Tensor:
        """(B, 3, size, size) float tensor in [0, 1] on the sampler's device."""
        crops = []
        for _ in range(batch_size):
            image = self.images[self._randint(len(self.images))]
            top = self._randint(image.shape[1] - self.size + 1)
            left = self._randint(image.shape[2] - self.size + 1)
            crop = image[:, top : top + self.size, left : left + self.size]
            crops.append(crop.flip(-1) if self._randint(2) else crop)
        return torch.stack(crops).float().div_(255)

    def _randint(self, high: int) -> int:
        return int(torch.randint(high, (), generator=self.generator))

    def state(self) -> Tensor:
        return self.generator.get_state()

    def restore(self, state: Tensor) -> None:
        self.generator.set_state(state)

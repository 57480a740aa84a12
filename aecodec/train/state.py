"""Everything a training run needs to continue exactly where it stopped, and its checkpoint."""

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from aecodec.models.hyperprior import Hyperprior
from aecodec.nn.crops import CropSampler


@dataclass
class TrainingState:
    model: Hyperprior
    optimizer: torch.optim.Optimizer
    aux_optimizer: torch.optim.Optimizer  # for the factorised prior's tail quantiles
    sampler: CropSampler
    levels: torch.Generator  # draws each image's lambda
    step: int = 0
    elapsed: float = 0.0  # seconds of training so far, across resumes

    def save(self, path: Path) -> None:
        """Write the checkpoint to a temporary file, then rename it into place."""
        state = {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "aux_optimizer": self.aux_optimizer.state_dict(), "step": self.step,
            "elapsed": self.elapsed, "sampler": self.sampler.state(),
            "levels": self.levels.get_state(),
        }  # fmt: skip
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)

    def restore(self, path: Path, device: str) -> None:
        state = torch.load(path, map_location=device, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.aux_optimizer.load_state_dict(state["aux_optimizer"])
        self.sampler.restore(state["sampler"])
        self.levels.set_state(state["levels"])
        self.step, self.elapsed = state["step"], state["elapsed"]

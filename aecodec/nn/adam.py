"""Adam's moments as plain tensors, for checkpoints in safetensors (no pickle): "I.exp_avg" and
"I.exp_avg_sq" for the I-th parameter of the first group."""

import torch
from torch import Tensor


def moments(optimizer: torch.optim.Adam) -> dict[str, Tensor]:
    """The moments of every parameter that has taken a step."""
    found = {}
    for i, p in enumerate(optimizer.param_groups[0]["params"]):
        if state := optimizer.state.get(p):
            for key in ("exp_avg", "exp_avg_sq"):
                found[f"{i}.{key}"] = state[key].detach().cpu().contiguous()
    return found


def restore_moments(optimizer: torch.optim.Adam, saved: dict[str, Tensor], step: int) -> None:
    """Put saved moments back, as after `step` steps (Adam's bias correction counts them)."""
    for i, p in enumerate(optimizer.param_groups[0]["params"]):
        if f"{i}.exp_avg" in saved:
            optimizer.state[p] = {
                "step": torch.tensor(float(step)),
                "exp_avg": saved[f"{i}.exp_avg"].to(p.device),
                "exp_avg_sq": saved[f"{i}.exp_avg_sq"].to(p.device),
            }

"""Retrain a codec's entropy model on its frozen transforms, from latents computed once.

With g_a, g_s and the gains fixed, the distortion at every quality is fixed too, so the loss is
the rate alone and only the entropy model learns: h_a, h_s, the factorised prior of z and, new,
a context model. Every step then works on 16x16 latents instead of 256x256 images, cheap enough
for a CPU. This is how a checkerboard context is added to a trained hyperprior (He et al. 2021
train everything together; training the transforms needs an accelerator, see train/codec.py).
"""

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from aecodec.errors import ModelError
from aecodec.image import find_images
from aecodec.models.hyperprior import Hyperprior, HyperpriorConfig
from aecodec.nn.crops import CropSampler, load_rgb
from aecodec.nn.loop import Loop, learning_rate
from aecodec.nn.report import CsvLog, Progress
from aecodec.train.codec import centre_crops, needs_channel_order, order_channels, warm_start
from aecodec.zoo import CONFIGS, load_named_or_path, save_model

ENTROPY_MODULES = ("h_a", "h_s", "entropy_bottleneck", "context_model")


@dataclass
class EntropyTrainConfig:
    train_dirs: list[Path]
    out_dir: Path
    init: str  # the trained codec whose transforms are kept
    model: HyperpriorConfig = field(default_factory=lambda: CONFIGS["hyperprior-cb"])
    val_dir: Path | None = None
    crops: int = 8000  # latents cached before training
    crop: int = 256
    batch_size: int = 8
    lr: float = 1e-4
    context_lr: float = 1e-3  # for what the model to start from lacks (a new context model)
    aux_lr: float = 1e-3
    steps: int = 50_000
    minutes: float | None = None
    seed: int = 0
    checkpoint_minutes: float = 10.0
    log_every: int = 50


def train_entropy(cfg: EntropyTrainConfig) -> Path:
    """Train, export every checkpoint_minutes and at the end; returns the weights path."""
    torch.manual_seed(cfg.seed)
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    loaded = load_named_or_path(cfg.init)
    source = loaded.model
    if source.config.lambdas != cfg.model.lambdas:  # the gains stay frozen: no interpolation
        raise ModelError(f"the model to start from has another architecture (lambdas): {cfg.init}")
    model = Hyperprior(cfg.model)
    warm_start(model, source)  # checks N and M; a new context model starts at zero correction
    for name, p in model.named_parameters():
        p.requires_grad_(name.split(".")[0] in ENTROPY_MODULES)

    progress = Progress(cfg.steps, 0, enabled=True)
    latents = _cached_latents(cfg, model, progress)
    if needs_channel_order(model, source):
        order_channels(model, latents[:512])
    val = None
    if cfg.val_dir:
        val = _latents_of(model, centre_crops(cfg.val_dir, cfg.crop).float().div(255))
        progress.note("validation bpp per level before: " + _format(validate(model, val)))

    trained = [p for p in model.parameters() if p.requires_grad]
    groups: dict[float, list] = {cfg.lr: [], cfg.context_lr: []}
    new = set(model.state_dict()) - set(source.state_dict())
    for name, p in model.named_parameters():
        if p.requires_grad and "quantiles" not in name:
            groups[cfg.context_lr if name in new else cfg.lr].append(p)
    optimizer = torch.optim.Adam([{"params": v, "base_lr": k} for k, v in groups.items() if v])
    aux_optimizer = torch.optim.Adam([model.entropy_bottleneck.quantiles], lr=cfg.aux_lr)
    generator = torch.Generator().manual_seed(cfg.seed + 1)
    gains = model.gain.detach().abs()
    pixels = cfg.crop**2
    log = CsvLog(out_dir / "log.csv", ["step", "seconds", "lr", "loss", "bpp", "aux"])
    loop = Loop(cfg.steps, cfg.minutes, cfg.checkpoint_minutes)
    for done in loop:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(group["base_lr"], done)
        model.train()
        pick = torch.randint(len(latents), (cfg.batch_size,), generator=generator)
        levels = torch.randint(len(gains), (cfg.batch_size,), generator=generator)
        y = latents[pick].float() * gains[levels][:, :, None, None]
        bpp = rate(model, y) / pixels
        optimizer.zero_grad(set_to_none=True)
        bpp.mean().backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        aux = model.aux_loss()
        aux_optimizer.zero_grad(set_to_none=True)
        aux.backward()
        aux_optimizer.step()
        if loop.log_due(cfg.log_every):
            mean = float(bpp.mean().detach())  # the loss is the rate alone: the bits per pixel
            row = {"step": loop.step, "seconds": round(loop.elapsed, 1), "loss": mean,
                   "lr": learning_rate(cfg.lr, done), "bpp": mean,
                   "aux": float(aux.detach())}  # fmt: skip
            log.write(row)
            progress.update(loop.step, row)
        if loop.checkpoint_due():
            save_model(model, out_dir / "model", _card(cfg, loaded.card, loop.step, loop.elapsed))
    progress.close()
    card = _card(cfg, loaded.card, loop.step, loop.elapsed)
    if val is not None:
        after = card["training"]["validation_bpp"] = validate(model, val)
        progress.note("validation bpp per level after: " + _format(after))
    return save_model(model, out_dir / "model", card)


def rate(model: Hyperprior, y: Tensor) -> Tensor:
    """Bits per image of the gained latents y, as the model counts them."""
    _, likelihoods = model.entropy_forward(y)
    return sum(-torch.log2(v).flatten(1).sum(1) for v in likelihoods.values())


def _cached_latents(cfg: EntropyTrainConfig, model: Hyperprior, progress: Progress) -> Tensor:
    """The latents of cfg.crops crops, computed once and kept in out_dir for later runs of the
    same analysis transform."""
    g_a = hashlib.sha256(b"".join(v.numpy().tobytes() for v in model.g_a.state_dict().values()))
    key = f"{g_a.hexdigest()[:16]}-{cfg.crops}x{cfg.crop}-seed{cfg.seed}"
    path = Path(cfg.out_dir) / "latents.safetensors"
    if path.exists():
        with safe_open(str(path), "pt") as f:
            if f.metadata().get("key") == key:
                return f.get_tensor("latents")
    progress.note(f"computing {cfg.crops} latents of {cfg.crop}x{cfg.crop} crops ...")
    images = [load_rgb(p) for p in find_images(cfg.train_dirs)]
    latents = cache_latents(model, CropSampler(images, cfg.crop, cfg.seed), cfg.crops)
    save_file({"latents": latents}, str(path), metadata={"key": key})
    return latents


@torch.no_grad()
def cache_latents(model: Hyperprior, sampler: CropSampler, count: int, batch: int = 16) -> Tensor:
    """g_a of `count` random crops, before gains, as float16 (half the memory)."""
    sizes = [min(batch, count - i) for i in range(0, count, batch)]
    return torch.cat([_latents_of(model, sampler.batch(n)) for n in sizes])


@torch.no_grad()
def _latents_of(model: Hyperprior, x: Tensor) -> Tensor:
    return model.g_a(x).half()


@torch.no_grad()
def validate(model: Hyperprior, latents: Tensor) -> list[float]:
    """Bits per pixel at each trained level on held-out latents, with real rounding."""
    model.eval()
    pixels = latents.shape[2] * latents.shape[3] * 256
    results = []
    for gain in model.gain.abs():
        y = latents.float() * gain[None, :, None, None]
        results.append(round(float(rate(model, y).mean()) / pixels, 4))
    return results


def _card(cfg: EntropyTrainConfig, source: dict, step: int, seconds: float) -> dict:
    """The card; when continuing an entropy-only run, its steps and hours add up."""
    training = source.get("training", {})
    earlier = training.get("entropy_model", {"steps": 0, "hours": 0.0})
    return {
        "description": f"variable-rate hyperprior with a {cfg.model.context} context",
        "training": {
            "transforms": training.get("transforms", training),
            "entropy_model": {
                "init": earlier.get("init", cfg.init), "data": [str(d) for d in cfg.train_dirs],
                "steps": earlier["steps"] + step, "runs": earlier.get("runs", 0) + 1,
                "batch_size": cfg.batch_size, "crops": cfg.crops, "crop": cfg.crop, "lr": cfg.lr,
                "hours": round(earlier["hours"] + seconds / 3600, 3), "device": "cpu",
                "seed": cfg.seed, "context_lr": cfg.context_lr,
                "date": date.today().isoformat(), "loss": "rate only, transforms frozen",
            },
        },
    }  # fmt: skip


def _format(values: list[float]) -> str:
    return "  ".join(f"{v:.4f}" for v in values)

"""Training loop of the learned codec: loss R + lambda * D, Adam, checkpoints, validation.

D is the MSE on pixels scaled to 0..255 (so lambda reads as in CompressAI: loss = bpp +
lambda * 255^2 * MSE on 0..1). Every image in a batch draws its own lambda index, which trains
all gain vectors of the variable-rate model at once.
"""

import csv
import math
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import torch
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel

from aecodec.errors import ModelError
from aecodec.models.hyperprior import Hyperprior, HyperpriorConfig
from aecodec.train import distributed
from aecodec.train.data import CropSampler, find_images, load_rgb
from aecodec.zoo import load_model, save_model


@dataclass
class TrainConfig:
    train_dirs: list[Path]
    out_dir: Path
    val_dir: Path | None = None
    model: HyperpriorConfig = field(default_factory=HyperpriorConfig)
    crop: int = 256
    batch_size: int = 8
    lr: float = 1e-4
    aux_lr: float = 1e-3
    steps: int = 100_000
    minutes: float | None = None  # wall-clock budget; the schedule follows whichever ends first
    seed: int = 0
    checkpoint_minutes: float = 10.0
    val_every: int = 1000
    log_every: int = 50
    device: str = "auto"
    resume: bool = False
    init: str | None = None  # start from this model's weights (a name or path), unless resuming


def rd_loss(out: dict[str, Tensor], x: Tensor, lambdas: Tensor) -> dict[str, Tensor]:
    """Per-image rate (bits per pixel) and distortion, averaged into the training loss."""
    pixels = x.shape[2] * x.shape[3]
    bits = sum(-torch.log2(out[k]).flatten(1).sum(1) for k in ("y_likelihood", "z_likelihood"))
    bpp = bits / pixels
    mse = (out["x_hat"] - x).pow(2).flatten(1).mean(1)
    loss = (bpp + lambdas * 255**2 * mse).mean()
    return {"loss": loss, "bpp": bpp.mean(), "mse": mse.mean()}


def psnr(mse: float) -> float:
    return 10 * math.log10(1 / max(mse, 1e-12))


def learning_rate(base: float, progress: float) -> float:
    """Constant, then two tenfold drops near the end (as in Ballé's and CompressAI's recipes)."""
    return base * (1.0 if progress < 0.75 else 0.1 if progress < 0.93 else 0.01)


def train_codec(cfg: TrainConfig) -> Path | None:
    """Train, checkpoint, and export the final model to cfg.out_dir; returns its weights path."""
    env = distributed.setup(cfg.device)
    if env.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True  # fixed crop size: let cuDNN pick its kernels
        torch.backends.cuda.matmul.allow_tf32 = True
    torch.manual_seed(cfg.seed + env.rank)
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = [load_rgb(p) for p in find_images(cfg.train_dirs)]
    sampler = CropSampler(images, cfg.crop, cfg.seed + env.rank, env.device)
    val_crops = centre_crops(cfg.val_dir, cfg.crop).to(env.device) if cfg.val_dir else None
    levels_rng = torch.Generator().manual_seed(cfg.seed + 1000 + env.rank)
    model = Hyperprior(cfg.model).to(env.device)
    lambdas = torch.tensor(cfg.model.lambdas, device=env.device)
    main_params = [p for n, p in model.named_parameters() if not n.endswith("quantiles")]
    optimizer = torch.optim.Adam(main_params, lr=cfg.lr)
    aux_optimizer = torch.optim.Adam([model.entropy_bottleneck.quantiles], lr=cfg.aux_lr)
    step, elapsed = 0, 0.0
    checkpoint = out_dir / "checkpoint.pt"
    if cfg.init and not (cfg.resume and checkpoint.exists()):
        warm_start(model, load_model(cfg.init).model)
    if cfg.resume and checkpoint.exists():
        state = torch.load(checkpoint, map_location=env.device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        aux_optimizer.load_state_dict(state["aux_optimizer"])
        step, elapsed = state["step"], state["elapsed"]
        sampler.restore(state["sampler"][env.rank % len(state["sampler"])])
        levels_rng.set_state(state["levels"])
    net = model
    if env.world_size > 1:  # quantiles get no gradient from the main loss
        net = DistributedDataParallel(model, find_unused_parameters=True)

    log = _CsvLog(out_dir / "log.csv", resume=cfg.resume) if env.is_main else None
    start, last_save = time.monotonic() - elapsed, time.monotonic()
    progress = _Progress(cfg.steps, step, enabled=env.is_main)
    while step < cfg.steps:
        elapsed = time.monotonic() - start
        done = max(step / cfg.steps, elapsed / 60 / cfg.minutes if cfg.minutes else 0.0)
        if done >= 1:
            break
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg.lr, done)
        model.train()
        x = sampler.batch(cfg.batch_size)
        levels = torch.randint(len(lambdas), (cfg.batch_size,), generator=levels_rng)
        levels = levels.to(env.device)
        terms = rd_loss(net(x, levels), x, lambdas[levels])
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(main_params, 1.0)
        optimizer.step()
        aux = model.aux_loss()
        aux_optimizer.zero_grad(set_to_none=True)
        aux.backward()
        aux_optimizer.step()
        step += 1
        if step % cfg.log_every == 0 or step == 1:
            row = {k: float(v.detach()) for k, v in terms.items()} | {"aux": float(aux.detach())}
            row = {k: distributed.mean_across(v, env) for k, v in row.items()}
            row |= {"step": step, "seconds": round(elapsed, 1), "lr": learning_rate(cfg.lr, done)}
            row["psnr"] = psnr(row["mse"])
            if log:
                log.write(row)
            progress.update(step, row)
        if cfg.val_dir and step % cfg.val_every == 0 and env.is_main:
            val = validate(model, val_crops)
            progress.note(f"step {step} validation: " + _format_val(val))
        if env.is_main and time.monotonic() - last_save > cfg.checkpoint_minutes * 60:
            _save_checkpoint(checkpoint, model, optimizer, aux_optimizer, step, elapsed,
                             sampler, levels_rng, env)  # fmt: skip
            save_model(model, out_dir / "model", _card(cfg, step, elapsed, env))
            last_save = time.monotonic()
    progress.close()
    elapsed = time.monotonic() - start
    weights = None
    if env.is_main:
        _save_checkpoint(checkpoint, model, optimizer, aux_optimizer, step, elapsed,
                         sampler, levels_rng, env)  # fmt: skip
        card = _card(cfg, step, elapsed, env)
        if cfg.val_dir:
            card["validation"] = validate(model, val_crops)
        weights = save_model(model, out_dir / "model", card)
    distributed.teardown(env)
    return weights


def centre_crops(folder: Path, size: int) -> Tensor:
    """Centre crops of the held-out images that are large enough, as one uint8 batch."""
    crops = []
    for path in find_images([folder]):
        image = load_rgb(path)
        h, w = image.shape[1:]
        if min(h, w) >= size:
            top, left = (h - size) // 2, (w - size) // 2
            crops.append(image[:, top : top + size, left : left + size])
    if not crops:
        raise ValueError(f"no validation image in {folder} is at least {size}x{size} pixels")
    return torch.stack(crops)


@torch.no_grad()
def warm_start(model: Hyperprior, source: Hyperprior) -> None:
    """Copy `source`'s weights into `model`. Other lambdas are allowed: their gain vectors are
    interpolated from the source's, linearly in log-gain over log-lambda (extrapolated at the
    ends), which is how gains behave between trained levels."""
    if (source.config.N, source.config.M) != (model.config.N, model.config.M):
        raise ModelError("the model to start from has another architecture (N, M)")
    state = source.state_dict()
    old = torch.tensor(source.config.lambdas).log()
    new = torch.tensor(model.config.lambdas).log()
    if not torch.equal(old, new):
        low = (torch.searchsorted(old, new) - 1).clamp(0, len(old) - 2)
        t = ((new - old[low]) / (old[low + 1] - old[low]))[:, None]
        for key in ("gain", "inverse_gain"):
            log_gain = state[key].abs().log()
            state[key] = (log_gain[low] + t * (log_gain[low + 1] - log_gain[low])).exp()
    model.load_state_dict(state)


@torch.no_grad()
def validate(model: Hyperprior, crops: Tensor) -> list[dict]:
    """Estimated bpp and PSNR per lambda on the validation crops."""
    model.eval()
    x = crops.float().div(255)
    device = x.device
    results = []
    for level, lam in enumerate(model.config.lambdas):
        levels = torch.full((len(x),), level, device=device)
        terms = rd_loss(model(x, levels), x, torch.tensor(lam, device=device))
        results.append({"lambda": lam, "bpp": round(float(terms["bpp"]), 4),
                        "psnr": round(psnr(float(terms["mse"])), 3)})  # fmt: skip
    return results


def _card(cfg: TrainConfig, step: int, elapsed: float, env: distributed.Distributed) -> dict:
    return {
        "description": "variable-rate mean-scale hyperprior with gain units",
        "training": {
            "data": [str(d) for d in cfg.train_dirs], "steps": step,
            "batch_size": cfg.batch_size * env.world_size, "crop": cfg.crop, "lr": cfg.lr,
            "hours": round(elapsed / 3600, 3), "device": str(env.device), "seed": cfg.seed,
            "init": cfg.init,
            "date": date.today().isoformat(),
        },
    }  # fmt: skip


def _format_val(results: list[dict]) -> str:
    return "  ".join(f"{r['bpp']:.3f} bpp/{r['psnr']:.2f} dB" for r in results)


def _save_checkpoint(path, model, optimizer, aux_optimizer, step, elapsed, sampler, levels, env):
    state = {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "aux_optimizer": aux_optimizer.state_dict(), "step": step, "elapsed": elapsed,
        "sampler": [sampler.state()], "levels": levels.get_state(),
    }  # fmt: skip
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


class _CsvLog:
    fields = ["step", "seconds", "lr", "loss", "bpp", "mse", "psnr", "aux"]

    def __init__(self, path: Path, resume: bool) -> None:
        new = not (resume and path.exists())
        self.file = open(path, "w" if new else "a", newline="")
        self.writer = csv.DictWriter(self.file, self.fields)
        if new:
            self.writer.writeheader()

    def write(self, row: dict) -> None:
        self.writer.writerow({k: row[k] for k in self.fields})
        self.file.flush()


class _Progress:
    """A rich progress bar on a terminal, plain log lines otherwise (for nohup logs)."""

    def __init__(self, total: int, completed: int, enabled: bool) -> None:
        self.enabled, self.interactive = enabled, sys.stderr.isatty()
        self.bar = None
        if enabled and self.interactive:
            from rich.progress import Progress

            self.bar = Progress(*Progress.get_default_columns(), "{task.fields[info]}")
            self.task = self.bar.add_task("training", total=total, completed=completed, info="")
            self.bar.start()

    def update(self, step: int, row: dict) -> None:
        info = f"loss {row['loss']:.3f}  {row['bpp']:.3f} bpp  {row['psnr']:.2f} dB"
        if self.bar:
            self.bar.update(self.task, completed=step, info=info)
        elif self.enabled:
            print(f"step {step}  {row['seconds']:.0f}s  {info}  aux {row['aux']:.1f}", flush=True)

    def note(self, text: str) -> None:
        if self.bar:
            self.bar.console.print(text)
        elif self.enabled:
            print(text, flush=True)

    def close(self) -> None:
        if self.bar:
            self.bar.stop()

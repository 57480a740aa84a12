"""Training loop of the learned codec: loss R + lambda * D, Adam, checkpoints, validation.

D is the MSE on pixels scaled to 0..255 (so lambda reads as in CompressAI: loss = bpp +
lambda * 255^2 * MSE on 0..1). Every image in a batch draws its own lambda index, which trains
all gain vectors of the variable-rate model at once.
"""

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import torch
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel

from aecodec.errors import ModelError
from aecodec.image import find_images
from aecodec.latent.space_channel import SpaceChannelContext
from aecodec.metrics import psnr_of_mse
from aecodec.models.hyperprior import Hyperprior, HyperpriorConfig
from aecodec.nn.crops import CropSampler, load_rgb
from aecodec.nn.loop import Loop, learning_rate
from aecodec.nn.report import CsvLog, Progress
from aecodec.train import distributed
from aecodec.train.state import TrainingState
from aecodec.zoo import load_named_or_path, save_model


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


def train_codec(cfg: TrainConfig) -> Path | None:
    """Train, checkpoint, and export the final model to cfg.out_dir; returns its weights path."""
    env = distributed.setup(cfg.device)
    if env.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True  # fixed crop size: let cuDNN pick its kernels
        torch.backends.cuda.matmul.allow_tf32 = True
    torch.manual_seed(cfg.seed + env.rank)
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = out_dir / "checkpoint.pt"
    run = _start(cfg, env, checkpoint)
    model = run.model
    val_crops = centre_crops(cfg.val_dir, cfg.crop).to(env.device) if cfg.val_dir else None
    net = model
    if env.world_size > 1:  # quantiles get no gradient from the main loss
        net = DistributedDataParallel(model, find_unused_parameters=True)
    main_params = [p for group in run.optimizer.param_groups for p in group["params"]]
    lambdas = torch.tensor(cfg.model.lambdas, device=env.device)

    fields = ["step", "seconds", "lr", "loss", "bpp", "mse", "psnr", "aux"]
    log = CsvLog(out_dir / "log.csv", fields, resume=cfg.resume) if env.is_main else None
    progress = Progress(cfg.steps, run.step, enabled=env.is_main)
    loop = Loop(cfg.steps, cfg.minutes, cfg.checkpoint_minutes, step=run.step, elapsed=run.elapsed)
    for done in loop:
        for group in run.optimizer.param_groups:
            group["lr"] = learning_rate(cfg.lr, done)
        model.train()
        x = run.sampler.batch(cfg.batch_size)
        levels = torch.randint(len(lambdas), (cfg.batch_size,), generator=run.levels)
        levels = levels.to(env.device)
        terms = rd_loss(net(x, levels), x, lambdas[levels])
        run.optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(main_params, 1.0)
        run.optimizer.step()
        aux = model.aux_loss()
        run.aux_optimizer.zero_grad(set_to_none=True)
        aux.backward()
        run.aux_optimizer.step()
        run.step, run.elapsed = loop.step, loop.elapsed
        if loop.log_due(cfg.log_every):
            row = {k: float(v.detach()) for k, v in terms.items()} | {"aux": float(aux.detach())}
            row = {k: distributed.mean_across(v, env) for k, v in row.items()}
            row |= {"step": run.step, "seconds": round(run.elapsed, 1)}
            row |= {"lr": learning_rate(cfg.lr, done), "psnr": psnr_of_mse(row["mse"], peak=1.0)}
            if log:
                log.write(row)
            progress.update(run.step, row)
        if val_crops is not None and run.step % cfg.val_every == 0 and env.is_main:
            progress.note(f"step {run.step} validation: " + _format_val(validate(model, val_crops)))
        if env.is_main and loop.checkpoint_due():
            run.save(checkpoint)
            save_model(model, out_dir / "model", _card(cfg, run, env))
    progress.close()
    run.elapsed = loop.elapsed
    weights = None
    if env.is_main:
        run.save(checkpoint)
        card = _card(cfg, run, env)
        if val_crops is not None:
            card["validation"] = validate(model, val_crops)
        weights = save_model(model, out_dir / "model", card)
    distributed.teardown(env)
    return weights


def _start(cfg: TrainConfig, env: distributed.Distributed, checkpoint: Path) -> TrainingState:
    """A fresh run, one warm-started from cfg.init, or one resumed from the checkpoint."""
    images = [load_rgb(p) for p in find_images(cfg.train_dirs)]
    model = Hyperprior(cfg.model).to(env.device)
    main_params = [p for n, p in model.named_parameters() if not n.endswith("quantiles")]
    run = TrainingState(
        model,
        torch.optim.Adam(main_params, lr=cfg.lr),
        torch.optim.Adam([model.entropy_bottleneck.quantiles], lr=cfg.aux_lr),
        CropSampler(images, cfg.crop, cfg.seed + env.rank, env.device),
        torch.Generator().manual_seed(cfg.seed + 1000 + env.rank),
    )
    resuming = cfg.resume and checkpoint.exists()
    if cfg.init and not resuming:
        source = load_named_or_path(cfg.init).model
        warm_start(model, source)
        if needs_channel_order(model, source):
            with torch.no_grad():
                order_channels(model, model.g_a(run.sampler.batch(64)))
    if resuming:
        run.restore(checkpoint, env.device)
        if env.rank > 0:  # the checkpoint holds rank 0's random streams: give others their own
            run.sampler.generator.manual_seed(cfg.seed + env.rank + 7919 * run.step)
            run.levels.manual_seed(cfg.seed + 1000 + env.rank + 7919 * run.step)
    return run


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
    ends), which is how gains behave between trained levels. A context model the source lacks
    keeps its fresh weights, whose correction starts at zero: the source's rate to begin with."""
    if (source.config.N, source.config.M) != (model.config.N, model.config.M):
        raise ModelError("the model to start from has another architecture (N, M)")
    if source.context_model is not None and model.context_model is None:
        raise ModelError("the model to start from has a context model that this config lacks")
    state = {k: v for k, v in model.state_dict().items() if k.startswith("context_model.")}
    state |= source.state_dict()
    old = torch.tensor(source.config.lambdas).log()
    new = torch.tensor(model.config.lambdas).log()
    if not torch.equal(old, new):
        low = (torch.searchsorted(old, new) - 1).clamp(0, len(old) - 2)
        t = ((new - old[low]) / (old[low + 1] - old[low]))[:, None]
        for key in ("gain", "inverse_gain"):
            log_gain = state[key].abs().log()
            state[key] = (log_gain[low] + t * (log_gain[low + 1] - log_gain[low])).exp()
    model.load_state_dict(state)


def needs_channel_order(model: Hyperprior, source: Hyperprior) -> bool:
    """Whether `model` has a space-channel context that `source` (warm-started from) lacked."""
    return isinstance(model.context_model, SpaceChannelContext) and not isinstance(
        source.context_model, SpaceChannelContext
    )


@torch.no_grad()
def order_channels(model: Hyperprior, y: Tensor) -> None:
    """Order a new space-channel context's channels by their bits in the latents y (before
    gains), summed over the levels: most first. Needs trained transforms, so set it once, when
    the context is added to a trained model, before training it."""
    model.eval()
    bits = torch.zeros(y.shape[1], device=y.device)
    for gain in model.gain.abs():
        _, likelihoods = model.entropy_forward(y.float() * gain[None, :, None, None])
        bits += -torch.log2(likelihoods["y_likelihood"]).sum((0, 2, 3))
    model.context_model.set_order(bits.cpu())


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
                        "psnr": round(psnr_of_mse(float(terms["mse"]), peak=1.0), 3)})  # fmt: skip
    return results


def _card(cfg: TrainConfig, run: TrainingState, env: distributed.Distributed) -> dict:
    return {
        "description": "variable-rate mean-scale hyperprior with gain units",
        "training": {
            "data": [str(d) for d in cfg.train_dirs], "steps": run.step,
            "batch_size": cfg.batch_size * env.world_size, "crop": cfg.crop, "lr": cfg.lr,
            "hours": round(run.elapsed / 3600, 3), "device": str(env.device), "seed": cfg.seed,
            "init": cfg.init,
            "date": date.today().isoformat(),
        },
    }  # fmt: skip


def _format_val(results: list[dict]) -> str:
    return "  ".join(f"{r['bpp']:.3f} bpp/{r['psnr']:.2f} dB" for r in results)

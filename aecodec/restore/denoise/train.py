"""Training the denoiser: random crops of clean photos, Gaussian noise of a random level added to
the 8-bit image (rounded and clipped, as a noisy photo file holds it), mean squared error.

    nohup nice -n 19 python -m aecodec.restore.denoise.train --out ~/runs/denoise \
        --data ../shared/data/photos ../shared/data/bsds500/train ../shared/data/bsds500/test \
        --minutes 150 > ~/runs/denoise/log 2>&1 &

runs on one thread (or a GPU when one is there), writes OUT/latest.safetensors + .json (model
card), OUT/optimizer.safetensors and OUT/state.json every `--checkpoint-minutes`, and resumes
from them when started again with the same OUT (`--steps` or `--minutes` then change the
schedule's length). No pickle: the optimizer's moments are plain tensors in safetensors.
`--ship NAME` copies OUT's latest into the package's weights.
"""

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor

from aecodec.files import atomic_write
from aecodec.image import find_images
from aecodec.nn import adam
from aecodec.nn.crops import CropSampler, load_rgb
from aecodec.nn.loop import Loop, learning_rate
from aecodec.nn.report import CsvLog
from aecodec.restore.denoise.model import Denoiser, DenoiserConfig, load, save

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as Pillow's convert("L")


@dataclasses.dataclass
class TrainConfig:
    batch: int = 16
    crop: int = 64  # full-resolution pixels; even
    lr: float = 1e-3
    steps: int = 1_000_000  # the schedule's length in steps, unless `minutes` ends it first
    minutes: float | None = None  # the schedule's length in minutes of training
    sigma_max: float = 75.0  # noise levels drawn uniformly in [0, sigma_max], 8-bit levels
    gray_fraction: float = 0.25  # colour models: crops made gray (R = G = B, same noise)
    checkpoint_minutes: float = 5.0
    log_every: int = 100
    seed: int = 0


def add_noise(clean: Tensor, sigma: Tensor, generator: torch.Generator) -> Tensor:
    """`clean` (B, C, H, W) in [0, 1] plus Gaussian noise of `sigma` (B,) 8-bit levels, rounded
    and clipped to 8 bits. Channels that are equal stay equal: a gray image's noise is gray."""
    noise = torch.randn(clean.shape, generator=generator).to(clean.device)
    gray = (clean[:, :1] == clean).all(dim=(1, 2, 3), keepdim=True)
    noise = torch.where(gray, noise[:, :1].expand_as(noise), noise)
    noisy = clean * 255 + noise * sigma.view(-1, 1, 1, 1)
    return noisy.round().clamp(0, 255) / 255


def to_luma(rgb: Tensor) -> Tensor:
    """(B, 3, H, W) in [0, 1] -> (B, 1, H, W) 8-bit luma in [0, 1]."""
    weights = torch.tensor(LUMA, device=rgb.device).view(1, 3, 1, 1)
    return ((rgb * weights).sum(1, keepdim=True) * 255).round() / 255


def clean_batch(sampler: CropSampler, config: TrainConfig, channels: int) -> Tensor:
    crops = sampler.batch(config.batch)
    if channels == 1:
        return to_luma(crops)
    gray = torch.rand(config.batch, generator=sampler.generator) < config.gray_fraction
    luma = to_luma(crops).expand_as(crops)
    return torch.where(gray.view(-1, 1, 1, 1).to(crops.device), luma, crops)


def psnr(a: Tensor, b: Tensor) -> float:
    """PSNR in dB of 8-bit-rounded images in [0, 1]."""
    mse = F.mse_loss((a.clamp(0, 1) * 255).round(), (b * 255).round()).item()
    return 10 * math.log10(255**2 / max(mse, 1e-10))


def train(
    data: list[Path],
    out: Path,
    config: TrainConfig,
    model_config: DenoiserConfig,
    device: str,
    threads: int = 1,
) -> None:
    """Train until the schedule ends (or the process is killed), checkpointing into `out`."""
    if device == "cpu":
        torch.set_num_threads(threads)
    out.mkdir(parents=True, exist_ok=True)
    images = [load_rgb(path) for path in find_images(data)]
    sampler = CropSampler(images, config.crop, config.seed, device)
    step, elapsed, schedules = 0, 0.0, []
    if (out / "state.json").exists():
        model, card = load(out / "latest.safetensors")
        state = json.loads((out / "state.json").read_text())
        step, elapsed = state["step"], state["elapsed"]
        schedules = state.get("schedules", [])
        sampler.restore(load_file(out / "sampler.safetensors")["generator"])
        print(f"resumed at step {step} from {out / 'latest'}", flush=True)
    else:
        torch.manual_seed(config.seed)
        model = Denoiser(model_config)
    schedule = _schedule(dataclasses.asdict(config), step)
    if not schedules or any(schedules[-1][key] != schedule[key] for key in SCHEDULE):
        schedules.append(schedule)  # the recipe: each schedule the run followed, from which step
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    if (out / "optimizer.safetensors").exists():
        adam.restore_moments(optimizer, load_file(out / "optimizer.safetensors"), step)
    noise_gen = torch.Generator().manual_seed(config.seed + 1 + step)
    monitor = _monitor_batch(images, model.config.channels, config)
    loop = Loop(config.steps, config.minutes, config.checkpoint_minutes, step=step,
                elapsed=elapsed)  # fmt: skip
    fields = ["step", "seconds", "lr", "loss", "train_psnr", "monitor_psnr_25"]
    log = CsvLog(out / "log.csv", fields, resume=step > 0)
    losses: list[float] = []
    for done in loop:
        lr = learning_rate(config.lr, done)
        for group in optimizer.param_groups:
            group["lr"] = lr
        clean = clean_batch(sampler, config, model.config.channels)
        sigma = torch.rand(config.batch, generator=noise_gen) * config.sigma_max
        noisy = add_noise(clean, sigma, noise_gen)
        loss = F.mse_loss(model(noisy, (sigma / 255).to(device)), clean)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if loop.log_due(config.log_every):
            mse = sum(losses) / len(losses)
            row = {"step": loop.step, "seconds": round(loop.elapsed), "lr": lr, "loss": mse,
                   "train_psnr": round(10 * math.log10(1 / mse), 3),
                   "monitor_psnr_25": round(_monitor(model, monitor, device), 3)}  # fmt: skip
            log.write(row)
            print(" ".join(f"{k} {v:.4g}" for k, v in row.items()), flush=True)
            losses = []
        if loop.checkpoint_due():
            _checkpoint(model, optimizer, sampler, out, loop, config, data, schedules)
    _checkpoint(model, optimizer, sampler, out, loop, config, data, schedules)


def _monitor_batch(images: list[Tensor], channels: int, config: TrainConfig) -> tuple:
    """A fixed noisy batch of training crops at sigma 25: a steady measure of progress."""
    size = min(128, max(min(img.shape[1:]) for img in images)) // 2 * 2
    sampler = CropSampler(images, size, seed=12345)
    clean = sampler.batch(16)
    clean = to_luma(clean) if channels == 1 else clean
    sigma = torch.full((16,), 25.0)
    return clean, add_noise(clean, sigma, torch.Generator().manual_seed(6789)), sigma / 255


@torch.no_grad()
def _monitor(model: Denoiser, monitor: tuple, device: str) -> float:
    clean, noisy, sigma = (t.to(device) for t in monitor)
    model.eval()
    out = model(noisy, sigma)
    model.train()
    return psnr(out, clean)


def _checkpoint(model, optimizer, sampler, out: Path, loop: Loop, config, data, schedules) -> None:
    card = {
        "description": _describe(model.config),
        "training": {
            "data": [str(d) for d in data],
            "steps": loop.step,
            "hours": round(loop.elapsed / 3600, 3),
            "train_config": dataclasses.asdict(config),
            "schedules": schedules,
        },
    }
    save(model, out / "latest", card)
    save_file(adam.moments(optimizer), out / "optimizer.safetensors")
    save_file({"generator": sampler.state()}, out / "sampler.safetensors")
    state = {"step": loop.step, "elapsed": loop.elapsed, "train_config": dataclasses.asdict(config),
             "schedules": schedules}  # fmt: skip
    atomic_write(out / "state.json", (json.dumps(state, indent=2) + "\n").encode(), force=True)
    print(f"checkpoint at step {loop.step}", flush=True)


def _describe(config: DenoiserConfig) -> str:
    kind = "colour" if config.channels == 3 else "gray"
    return (
        f"FFDNet-style {kind} denoiser: pixel unshuffle to half resolution plus a noise-level "
        f"map, {config.depth} 3x3 convolutions of {config.width} channels with ReLU, "
        "residual output; blind Gaussian noise of 0 to 75 levels"
    )


def ship(out: Path, name: str, weights: Path, figures: dict | None = None) -> None:
    """Copy OUT's latest checkpoint into `weights` as NAME, its card completed."""
    model, card = load(out / "latest.safetensors")
    config = card["training"]["train_config"]
    card["training"].update(
        {
            "not_trained_on": "Kodak and BSDS500 val (the evaluation images; BSD68 is in val)",
            "date": time.strftime("%Y-%m-%d"),
            "device": "CPU at nice 19 on a shared 2-core machine",
            "recipe": _recipe(card["training"].get("schedules"), config),
        }
    )
    if figures:  # the model's own rows of a bench/denoise.py --json file
        card["benchmark"] = {
            "command": figures.get("command", "python bench/denoise.py"),
            "date": figures.get("date"),
            "psnr": {
                method: {key: round(row["psnr"], 2) for key, row in rows.items()}
                for method, rows in figures["results"].items()
                if method.startswith("ours")
            },
            "seconds_per_image": {
                method: {key: round(row["seconds"], 2) for key, row in rows.items()}
                for method, rows in figures["results"].items()
                if method.startswith("ours")
            },
        }
    weights.mkdir(parents=True, exist_ok=True)
    save(model, weights / name, card)
    print(f"shipped {out / 'latest'} (step {card['training']['steps']}) as {weights / name}")


def _recipe(schedules: list[dict] | None, config: dict) -> str:
    """The commands that made the model: recipes/denoise.sh with each schedule the run followed,
    each after the first resuming the run at the step where it took over; a checkpoint that does
    not record them gives its train config's schedule, and says so."""
    commands = []
    for schedule in schedules or [_schedule(config, 0)]:
        length = f" {schedule['minutes']:g}" if schedule["minutes"] else ""
        steps = "" if schedule["minutes"] else f"STEPS={schedule['steps']} "
        lr = f"LR={schedule['lr']:g} " if schedule["lr"] != TrainConfig.lr else ""
        resumed = f"from step {schedule['from_step']}: " if schedule["from_step"] else ""
        commands.append(f"{resumed}{lr}{steps}sh recipes/denoise.sh{length}")
    if not schedules:
        return f"{commands[0]} (the last schedule of a run whose earlier ones were not recorded)"
    return "; ".join(commands) + (" (the same run resumed)" if len(commands) > 1 else "")


SCHEDULE = ("minutes", "steps", "lr")  # a schedule: its length and its base learning rate


def _schedule(config: dict, from_step: int) -> dict:
    """The schedule of a train config, and the step it began at."""
    return {"from_step": from_step} | {key: config[key] for key in SCHEDULE}


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the denoiser (resumes from --out).")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint folder")
    parser.add_argument("--data", type=Path, nargs="+", help="folders of clean training images")
    parser.add_argument("--ship", metavar="NAME", help="copy --out's latest into the package")
    parser.add_argument("--to", type=Path, default=Path(__file__).parents[1] / "weights")
    parser.add_argument("--figures", type=Path, help="with --ship: bench/denoise.py --json output")
    parser.add_argument("--channels", type=int, choices=(1, 3), default=3)
    parser.add_argument("--width", type=int, default=DenoiserConfig.width)
    parser.add_argument("--depth", type=int, default=DenoiserConfig.depth)
    parser.add_argument("--steps", type=int, help="schedule length in steps")
    parser.add_argument("--minutes", type=float, help="schedule length in minutes")
    parser.add_argument("--lr", type=float, help=f"base learning rate [{TrainConfig.lr}]")
    parser.add_argument("--batch", type=int, default=TrainConfig.batch)
    parser.add_argument("--crop", type=int, default=TrainConfig.crop)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads [1]")
    args = parser.parse_args()
    if args.ship:
        figures = json.loads(args.figures.read_text()) if args.figures else None
        ship(args.out, args.ship, args.to, figures)
        return
    if not args.data:
        parser.error("--data is required for training")
    config = TrainConfig(batch=args.batch, crop=args.crop, minutes=args.minutes)
    state_path = args.out / "state.json"
    if state_path.exists():  # the saved run goes on; its schedule's length as now given
        config = TrainConfig(**json.loads(state_path.read_text())["train_config"])
        config.minutes = args.minutes if args.minutes is not None else config.minutes
    if args.steps is not None:
        config.steps = args.steps
    if args.lr is not None:  # e.g. a resumed run going on at the rate it had dropped to
        config.lr = args.lr
    model_config = DenoiserConfig(args.channels, args.width, args.depth)
    train(args.data, args.out, config, model_config, args.device, args.threads)


if __name__ == "__main__":
    main()

"""Train the repair network: random crops of training photos, holes of every kind in masks.py,
a loss on the hole pixels only (the known pixels are put back after the network, so its output
there is never seen), averaged over each crop's holes, then over the crops: squared error by
default, as PSNR scores it (an L1 loss lowered the network's L1 below the smooth fill's and left
its PSNR where the fill's was). Adam at 2e-4 with the gradient's norm clipped at 1: these gated
convolutions have no normalisation, and at 7e-4 their activations grew until most gates shut,
passing no gradient again. Every `--val-every` steps the log gives the network's gain over its
own smooth fill on fixed crops of BSDS500 val (held out, never trained on), holes of each kind,
and on the irregular ones alone: the figure the benchmark asks to grow.

    python -m aecodec.restore.repair.train --out ~/runs/repair --minutes 42   # recipes/repair.sh

Re-running the same command resumes from OUT/checkpoint.safetensors (model, Adam's moments,
step, elapsed time, the crop sampler's generator; no pickle). Masks come from a generator seeded
with (seed, step), so a resumed run draws the same masks as an unbroken one. `--portable DIR`
also writes DIR/checkpoint.safetensors without Adam's moments (small enough for the
repository); a run that starts from it continues the schedule with fresh moments. `--ship NAME`
writes NAME.safetensors and NAME.json from the latest checkpoint and exits.
"""

import argparse
import json
import math
import shlex
import sys
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save

from aecodec.files import atomic_write
from aecodec.image import find_images
from aecodec.metrics import psnr_of_mse
from aecodec.nn import adam
from aecodec.nn.crops import CropSampler, load_rgb
from aecodec.nn.loop import Loop, learning_rate
from aecodec.nn.report import CsvLog
from aecodec.restore.repair.masks import KINDS, mixed
from aecodec.restore.repair.model import RepairConfig, RepairNet

DATA = ["../shared/data/photos", "../shared/data/bsds500/train", "../shared/data/bsds500/test"]
FIELDS = ["step", "seconds", "lr", "loss", "hole_psnr", "val_gain_db", "val_gain_irregular_db"]
VALIDATION = "../shared/data/bsds500/val"


@dataclass
class TrainConfig:
    data: list[str] = field(default_factory=lambda: list(DATA))
    out: str = "runs/repair"
    minutes: float = 42.0
    steps: int = 1_000_000  # the time budget ends training first
    batch: int = 8
    crop: int = 128
    lr: float = 2e-4
    loss: str = "mse"  # or "l1"
    clip: float = 1.0  # the gradient's largest norm; 0: no clipping
    val_every: int = 1000
    seed: int = 0
    checkpoint_minutes: float = 5.0
    log_every: int = 50
    threads: int = 1
    device: str = "auto"
    portable: str | None = None
    model: RepairConfig = field(default_factory=RepairConfig)


def train(cfg: TrainConfig) -> None:
    torch.set_num_threads(cfg.threads)
    device = cfg.device if cfg.device != "auto" else "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    images = [load_rgb(p) for p in _training_images(cfg.data)]
    print(f"{len(images)} training images; device {device}", flush=True)
    sampler = CropSampler(images, cfg.crop, cfg.seed, device)
    net = RepairNet(cfg.model).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    step, elapsed = _resume(out, cfg, net, optimizer, sampler, device)
    validation = None  # made at the first validation: a hundred photos to read
    log = CsvLog(out / "log.csv", FIELDS, resume=step > 0)
    loop = Loop(cfg.steps, cfg.minutes, cfg.checkpoint_minutes, step=step, elapsed=elapsed)
    for done in loop:
        lr = learning_rate(cfg.lr, done)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x = sampler.batch(cfg.batch)
        mask = _masks(cfg, loop.step, device)
        y = net(x, mask)
        # The mean over each crop's holes, then over the crops: a thin scratch counts as much as
        # a large blotch (pooling all hole pixels would leave scratches 2 % of the loss).
        error = (y - x) ** 2 if cfg.loss == "mse" else (y - x).abs()
        per_crop = (error * mask).sum((1, 2, 3)) / (3 * mask.sum((1, 2, 3))).clamp_min(1)
        loss = per_crop.mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip:
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
        optimizer.step()
        validate = cfg.val_every and loop.step % cfg.val_every == 0 and Path(VALIDATION).is_dir()
        if validate and validation is None:
            validation = Validation(Path(VALIDATION), cfg.crop, device)
        if loop.log_due(cfg.log_every) or validate:
            with torch.no_grad():
                hole_mse = ((y.clamp(0, 1) - x) ** 2 * mask).sum() / (3 * mask.sum())
            gains = validation.gains(net) if validate else ("", "")
            row = dict(step=loop.step, seconds=round(loop.elapsed), lr=lr,
                       loss=round(loss.item(), 6),
                       hole_psnr=round(psnr_of_mse(float(hole_mse), 1.0), 3),
                       val_gain_db=gains[0], val_gain_irregular_db=gains[1])  # fmt: skip
            log.write(row)
            print("  ".join(f"{k} {row[k]}" for k in FIELDS), flush=True)
        if loop.checkpoint_due():
            _save(out, cfg, net, optimizer, sampler, loop)
    _save(out, cfg, net, optimizer, sampler, loop)
    print(f"done: step {loop.step}, {loop.elapsed / 3600:.2f} h", flush=True)


class Validation:
    """Fixed crops of held-out photos with holes of each kind (seeded), to score the network
    against its own smooth fill: the gain in dB of squared error over the holes, in all and on
    the irregular holes alone. The fill has no parameters: its errors are measured once, by the
    first network scored."""

    def __init__(self, folder: Path, crop: int, device: str, per_kind: int = 32) -> None:
        sampler = CropSampler([load_rgb(p) for p in find_images([folder])], crop, 4321, device)
        images, masks, kinds = [], [], []
        for k, (kind, make) in enumerate(KINDS.items()):
            rng = np.random.default_rng([4321, k])
            images.append(sampler.batch(per_kind))
            masks += [make(crop, crop, rng) for _ in range(per_kind)]
            kinds += [kind.startswith("irregular")] * per_kind
        self.x = torch.cat(images)
        self.mask = torch.from_numpy(np.stack(masks)).float()[:, None].to(device)
        self.irregular = torch.tensor(kinds, device=device)
        self.fill_errors: torch.Tensor | None = None

    @torch.no_grad()
    def gains(self, net: RepairNet, chunk: int = 16) -> tuple[float, float]:
        net.eval()
        if self.fill_errors is None:
            self.fill_errors = self._errors(net.smooth_fill, chunk)
        ours, fill = self._errors(lambda x, mask: net(x, mask).clamp(0, 1), chunk), self.fill_errors
        net.train()
        return _gain(fill, ours), _gain(fill[self.irregular], ours[self.irregular])

    def _errors(self, repair, chunk: int) -> torch.Tensor:
        """Per crop, the squared error over the holes of repair(x, mask)."""
        errors = []
        for i in range(0, len(self.x), chunk):
            x, mask = self.x[i : i + chunk], self.mask[i : i + chunk]
            errors.append(((repair(x, mask) - x) ** 2 * mask).sum((1, 2, 3)))
        return torch.cat(errors)


def _gain(before: torch.Tensor, after: torch.Tensor) -> float:
    """dB less squared error after than before, summed."""
    return round(10 * math.log10(float(before.sum() / after.sum())), 3)


def _training_images(folders: list[str]) -> list[Path]:
    for folder in folders:
        # The evaluation sets: a figure measured on images seen in training would be worthless.
        if "kodak" in folder.lower() or Path(folder).name == "val":
            sys.exit(f"{folder} is an evaluation set (Kodak, BSDS500 val); never train on it")
    return find_images([Path(f) for f in folders])


def _masks(cfg: TrainConfig, step: int, device: str) -> torch.Tensor:
    rng = np.random.default_rng([cfg.seed, step])
    masks = np.stack([mixed(cfg.crop, cfg.crop, rng) for _ in range(cfg.batch)])
    return torch.from_numpy(masks).float().unsqueeze(1).to(device)


CHECKPOINT = "checkpoint.safetensors"  # tensors, with the config, step and time as metadata


def _save(out: Path, cfg: TrainConfig, net, optimizer, sampler, loop) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    tensors["sampler"] = sampler.state()
    meta = {"config": json.dumps(asdict(cfg)), "step": str(loop.step), "elapsed": str(loop.elapsed)}
    moments = {f"optimizer.{k}": v for k, v in adam.moments(optimizer).items()}
    atomic_write(out / CHECKPOINT, save(tensors | moments, meta), force=True)
    if cfg.portable:  # without Adam's moments: small enough for the repository
        Path(cfg.portable).mkdir(parents=True, exist_ok=True)
        atomic_write(Path(cfg.portable) / CHECKPOINT, save(tensors, meta), force=True)
    print(f"checkpoint at step {loop.step}", flush=True)


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """A checkpoint's tensors and metadata (safetensors: no pickle)."""
    with safe_open(path, framework="pt") as file:
        return {k: file.get_tensor(k) for k in file.keys()}, file.metadata()  # noqa: SIM118


def _part(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}


def _resume(out: Path, cfg, net, optimizer, sampler, device) -> tuple[int, float]:
    """Continue from OUT's checkpoint, else from the portable one (fresh Adam moments)."""
    for path in (out / CHECKPOINT, Path(cfg.portable or out) / CHECKPOINT):
        if path.is_file():
            tensors, meta = _read(path)
            step = int(meta["step"])
            net.load_state_dict(_part(tensors, "model."))
            adam.restore_moments(optimizer, _part(tensors, "optimizer."), step)
            sampler.restore(tensors["sampler"])
            print(f"resumed from {path} at step {step}", flush=True)
            return step, float(meta["elapsed"])
    return 0, 0.0


def ship(run: Path, name: Path, command: str) -> None:
    """NAME.safetensors and NAME.json (family "repairer") from RUN's checkpoint."""
    tensors, meta = _read(Path(run).expanduser() / CHECKPOINT)
    cfg = json.loads(meta["config"])
    state = {"step": int(meta["step"]), "elapsed": float(meta["elapsed"])}
    net = RepairNet(RepairConfig(**cfg["model"]))
    net.load_state_dict(_part(tensors, "model."))
    weights = {k: v.contiguous() for k, v in net.state_dict().items()}
    params = sum(v.numel() for v in weights.values())
    card = {
        "family": "repairer",
        "description": (
            f"gated-convolution U-Net for inpainting, {params / 1e6:.2f} M parameters, trained "
            "with holes of four kinds (scratches, irregular strokes, 64x64 boxes)"
        ),
        "config": cfg["model"],
        "data": {"train": cfg["data"], "never": ["../shared/data/kodak", "bsds500/val"]},
        "training_run": {
            "steps": state["step"], "hours": round(state["elapsed"] / 3600, 2),
            "batch": cfg["batch"], "crop": cfg["crop"], "lr": cfg["lr"],
            "loss": f"{cfg.get('loss', 'l1')} on the hole pixels, mean per crop",
            "clip": cfg.get("clip", 0), "optimizer": "adam",
            "threads": cfg["threads"], "date": date.today().isoformat(),
            "command": command,
        },
    }  # fmt: skip
    name = Path(name)
    atomic_write(name.with_suffix(".safetensors"), save(weights), force=True)
    text = json.dumps(card, indent=2) + "\n"
    atomic_write(name.with_suffix(".json"), text.encode(), force=True)
    print(f"{name}.safetensors: step {state['step']}, {state['elapsed'] / 3600:.2f} h")


def main(argv: list[str] | None = None) -> None:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=defaults.data)
    parser.add_argument("--out", default=defaults.out, help="run folder: checkpoint and log")
    keys = ("minutes", "steps", "batch", "crop", "lr", "loss", "clip", "seed", "threads", "device")
    for key in keys:
        parser.add_argument(f"--{key}", type=type(getattr(defaults, key)))
    parser.add_argument("--checkpoint-minutes", type=float)
    parser.add_argument("--log-every", type=int)
    parser.add_argument("--val-every", type=int, help="steps between validations; 0: none")
    parser.add_argument("--widths", help="channels per scale, e.g. 32,64,96,128")
    parser.add_argument("--dilations", help="bottom dilations, e.g. 2,4")
    parser.add_argument("--portable", help="folder for a checkpoint without optimizer state")
    parser.add_argument("--ship", type=Path, help="write NAME.safetensors/.json, then exit")
    parser.add_argument("--recipe", default=None, help="the command the card names (with --ship)")
    args = parser.parse_args(argv)
    if args.ship:
        ship(Path(args.out), args.ship, args.recipe or shlex.join(sys.argv))
        return
    model = RepairConfig()
    if args.widths:
        model.widths = [int(v) for v in args.widths.split(",")]
    if args.dilations:
        model.dilations = [int(v) for v in args.dilations.split(",")]
    given = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__}
    given = {k: v for k, v in given.items() if v is not None and k != "model"}
    for key in ("checkpoint_minutes", "log_every"):
        if getattr(args, key):
            given[key] = getattr(args, key)
    train(TrainConfig(**given, model=model))


if __name__ == "__main__":
    main()

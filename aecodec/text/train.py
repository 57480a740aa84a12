"""Training the text model: random byte windows from a training file, cross-entropy, Adam.

    nohup nice -n 19 python -m aecodec.text.train ~/data/text/train.txt --val ~/data/text/val.txt \
        --out ~/runs/text > ~/runs/text/log 2>&1 &

runs on one thread, the learning rate falling over `--steps` then staying at its floor, writes
OUT/latest.safetensors + .json (model card) and OUT/optimizer.safetensors + state.json every
`--checkpoint-minutes`, and resumes from them when started again with the same OUT (`--steps`
then changes the schedule's length). No pickle: the optimizer's moments are plain tensors in
safetensors.
"""

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor

from aecodec.nn import adam
from aecodec.text.model import PAD, TextModel, TextModelConfig, card_for, load, save


@dataclasses.dataclass
class TrainConfig:
    batch: int = 1024
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup: int = 500
    steps: int = 40_000  # cosine from lr to min_lr over this many steps, then min_lr
    pad_fraction: float = 1 / 16  # windows with a padded start, as at the start of a lane
    checkpoint_minutes: float = 5.0
    eval_every: int = 500
    seed: int = 0


def learning_rate(config: TrainConfig, step: int) -> float:
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    t = min(1.0, (step - config.warmup) / max(1, config.steps - config.warmup))
    return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1 + math.cos(math.pi * t))


def batch(data: Tensor, context: int, size: int, pad_fraction: float, gen) -> tuple:
    """`size` windows at random offsets and the byte after each; some with a padded start."""
    offsets = torch.randint(0, len(data) - context - 1, (size,), generator=gen)
    idx = offsets[:, None] + torch.arange(context + 1)
    windows, targets = data[idx[:, :-1]], data[idx[:, -1]]
    padded = torch.rand(size, generator=gen) < pad_fraction
    cut = torch.randint(0, context + 1, (size,), generator=gen)
    mask = padded[:, None] & (torch.arange(context)[None, :] < (context - cut)[:, None])
    return windows.masked_fill(mask, PAD), targets


@torch.no_grad()
def bits_per_byte(model: TextModel, data: Tensor, chunk: int = 8192) -> float:
    """Cross-entropy in bits per byte on every window of `data` (full context)."""
    k = model.config.context
    total, count = 0.0, 0
    for start in range(0, len(data) - k - 1, chunk):
        idx = torch.arange(start, min(start + chunk, len(data) - k - 1))[:, None]
        idx = idx + torch.arange(k + 1)
        logits = model(data[idx[:, :-1]])
        total += F.cross_entropy(logits, data[idx[:, -1]].long(), reduction="sum").item()
        count += len(idx)
    return total / count / math.log(2)


def train(
    data_path: Path,
    out: Path,
    val_path: Path | None,
    config: TrainConfig,
    model_config: TextModelConfig,
    steps_given: bool = False,
    until: int | None = None,
    init: Path | None = None,
) -> None:
    """Train until killed (or until step `until`, with a last checkpoint there)."""
    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    data = torch.from_numpy(np.fromfile(data_path, dtype=np.uint8))
    val = torch.from_numpy(np.fromfile(val_path, dtype=np.uint8)[:100_000]) if val_path else None
    latest = out / "latest"
    if latest.with_suffix(".json").exists():
        model, card, _ = load(latest)
        state = json.loads((out / "state.json").read_text())
        step, val_bpb = state["step"], state.get("val_bpb")
        # The saved schedule goes on, except its length when --steps says otherwise.
        steps = config.steps if steps_given else state["train_config"]["steps"]
        config = dataclasses.replace(TrainConfig(**state["train_config"]), steps=steps)
        print(f"resumed at step {step} from {latest}", flush=True)
    else:
        torch.manual_seed(config.seed)
        model, step, val_bpb = TextModel(model_config), 0, None
        if init is not None:  # e.g. a shipped model: its weights, a fresh optimizer and schedule
            model = load(init)[0]
            print(f"initialised from {init}", flush=True)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    if (out / "optimizer.safetensors").exists():
        adam.restore_moments(optimizer, load_file(out / "optimizer.safetensors"), step)
    gen = torch.Generator().manual_seed(config.seed + step)
    k = model.config.context
    last_save, t0, running = time.monotonic(), time.monotonic(), []
    while until is None or step < until:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, step)
        windows, targets = batch(data, k, config.batch, config.pad_fraction, gen)
        loss = F.cross_entropy(model(windows), targets.long())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        running.append(loss.item() / math.log(2))
        if step % config.eval_every == 0:
            msg = f"step {step} train {np.mean(running):.4f} bpb"
            if val is not None:
                model.eval()
                val_bpb = bits_per_byte(model, val)
                model.train()
                msg += f" val {val_bpb:.4f} bpb"
            rate = config.eval_every * config.batch / (time.monotonic() - t0)
            print(f"{msg} lr {learning_rate(config, step):.2e} {rate:.0f} bytes/s", flush=True)
            running, t0 = [], time.monotonic()
        if time.monotonic() - last_save > 60 * config.checkpoint_minutes:
            _checkpoint(model, optimizer, out, step, val_bpb, config, data_path)
            last_save = time.monotonic()
    _checkpoint(model, optimizer, out, step, val_bpb, config, data_path)


def _checkpoint(model, optimizer, out: Path, step: int, val_bpb, config, data_path) -> None:
    card = card_for(
        model.config,
        training={
            "data": str(data_path),
            "recipe": "python recipes/text_data.py DATA --shakespeare ../shared/data/text/"
            "tinyshakespeare; python -m aecodec.text.train DATA/train.txt --val DATA/val.txt",
            "steps": step,
            "train_config": dataclasses.asdict(config),
            "val_bpb": val_bpb,
        },
    )
    save(model, out / "latest", card)
    save_file(adam.moments(optimizer), out / "optimizer.safetensors")
    state = {"step": step, "val_bpb": val_bpb, "train_config": dataclasses.asdict(config)}
    (out / "state.json").write_text(json.dumps(state, indent=2) + "\n")
    print(f"checkpoint at step {step}", flush=True)


def ship(out: Path, name: str, weights: Path) -> None:
    """Copy OUT's latest checkpoint into the package as NAME, its card completed."""
    model, card, _ = load(out / "latest")
    card["description"] = (
        "byte-level window MLP (32 bytes of context, embeddings of 16, ReLU 1024 and 256), "
        "mixed bitwise with adaptive order-n contexts by aecodec.text"
    )
    card["training"].update(
        {
            "data": "Debian packages of freely licensed English (recipes/text_data.py: "
            + ", ".join(DEBIAN_SOURCES)
            + ") and ../shared/data/text/tinyshakespeare",
            "not_trained_on": "Canterbury and Calgary corpora (the evaluation files)",
            "date": time.strftime("%Y-%m-%d"),
            "device": "CPU, one thread at nice 19 on a shared 2-core machine",
        }
    )
    weights.mkdir(parents=True, exist_ok=True)
    save(model, weights / name, card)
    print(f"shipped {out / 'latest'} (step {card['training']['steps']}) as {weights / name}")


DEBIAN_SOURCES = (
    "dict-gcide",
    "dict-devil",
    "jargon-text",
    "fortunes",
    "fortunes-min",
    "python3.11-doc",
    "developers-reference",
    "debian-reference-en",
    "debian-handbook",
    "bible-kjv",
)


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the text model (resumes from --out).")
    parser.add_argument("data", type=Path, nargs="?", help="training text (not with --ship)")
    parser.add_argument("--ship", metavar="NAME", help="copy --out's latest into the package")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--val", type=Path)
    parser.add_argument("--steps", type=int, help=f"schedule length [{TrainConfig.steps}]")
    parser.add_argument("--batch", type=int, default=TrainConfig.batch)
    parser.add_argument("--context", type=int, default=TextModelConfig.context)
    parser.add_argument("--hidden", type=int, default=TextModelConfig.hidden)
    parser.add_argument("--init", type=Path, help="start from PATH.safetensors + PATH.json")
    args = parser.parse_args()
    if args.ship:
        return ship(args.out, args.ship, Path(__file__).parent / "weights")
    config = TrainConfig(steps=args.steps or TrainConfig.steps, batch=args.batch)
    model_config = TextModelConfig(context=args.context, hidden=args.hidden)
    given = args.steps is not None
    train(args.data, args.out, args.val, config, model_config, given, init=args.init)


if __name__ == "__main__":
    main()

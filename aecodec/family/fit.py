"""The training loop of the autoencoder family: mini-batches, validation, early stopping.

Keras conventions: `validation_split` holds out the *last* fraction of the examples (before any
shuffling), `shuffle` reorders the rest every epoch, and early stopping watches the validation
loss (the training loss when there is no validation set) and restores the best weights.
Everything random (initial shuffles, noise, dropout, VAE samples) draws from generators seeded
by `seed`, inside a forked RNG, so two runs with one seed agree and the caller's RNG is untouched.
"""

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn

from aecodec.family.losses import LOSSES, loss_terms, weight_penalty
from aecodec.family.noise import NOISES, corrupt

OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}


@dataclass
class FitConfig:
    epochs: int = 20
    batch_size: int = 128
    learning_rate: float = 1e-3
    optimizer: str = "adam"  # adam, sgd (momentum 0.9) or rmsprop
    schedule: str = "constant"  # or "cosine": the learning rate decays to 0 over the epochs
    loss: str = "mse"  # mse or bce (bce needs a sigmoid output)
    validation_split: float = 0.0
    shuffle: bool = True
    patience: int | None = None  # early stopping: epochs without improvement before stopping
    weight_l1: float = 0.0
    weight_l2: float = 0.0
    activity_l1: float = 0.0  # sparse autoencoder: L1 penalty on the code
    noise: str | None = None  # denoising autoencoder: gaussian, salt-pepper or mask
    noise_level: float = 0.0
    beta: float = 1.0  # weight of the VAE's KL term
    seed: int = 0
    verbose: bool = False  # a rich progress bar on stderr

    def to_dict(self) -> dict:
        return asdict(self)

    def check(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer '{self.optimizer}' (known: {', '.join(OPTIMIZERS)})"
            )
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"unknown schedule '{self.schedule}' (known: constant, cosine)")
        if self.loss not in LOSSES:
            raise ValueError(f"unknown loss '{self.loss}' (known: {', '.join(LOSSES)})")
        if self.noise is not None and self.noise not in NOISES:
            raise ValueError(f"unknown noise '{self.noise}' (known: {', '.join(NOISES)})")
        if not 0 <= self.validation_split < 1:
            raise ValueError("validation_split must be at least 0 and below 1")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be positive")


@dataclass
class History:
    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # wall-clock time of each epoch
    best_epoch: int = 0  # 1-based; the weights kept are this epoch's
    stopped_early: bool = False


def fit(
    model: nn.Module, x: Tensor, cfg: FitConfig,
    checkpoint: Callable[[nn.Module, int], None] | None = None,
) -> History:  # fmt: skip
    """Train `model` on x (N, ...) in place; `checkpoint(model, epoch)` runs at each new best."""
    cfg.check()
    if cfg.loss == "bce" and not isinstance(model.output, nn.Sigmoid):
        raise ValueError("the bce loss needs a model with a sigmoid output")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return _fit(model, x, cfg, checkpoint)


def _fit(model, x, cfg, checkpoint) -> History:
    n_val = int(len(x) * cfg.validation_split)
    x_train, x_val = (x[: len(x) - n_val], x[len(x) - n_val :]) if n_val else (x, None)
    if len(x_train) == 0:
        raise ValueError("no examples left to train on after the validation split")
    gen = torch.Generator().manual_seed(cfg.seed)
    optimizer, scheduler = _optimizer(model, cfg)
    history, best, best_state, waited = History(), math.inf, None, 0
    with _Bar(cfg.epochs * math.ceil(len(x_train) / cfg.batch_size), cfg.verbose) as bar:
        for epoch in range(1, cfg.epochs + 1):
            start = time.perf_counter()
            history.loss.append(_train_epoch(model, x_train, cfg, optimizer, gen, bar, epoch))
            scheduler.step()
            if x_val is not None:
                history.val_loss.append(evaluate(model, x_val, cfg))
            history.seconds.append(time.perf_counter() - start)
            watched = history.val_loss[-1] if x_val is not None else history.loss[-1]
            bar.note(_epoch_line(epoch, history))
            if watched < best:
                best, waited, history.best_epoch = watched, 0, epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                if checkpoint:
                    checkpoint(model, epoch)
            else:
                waited += 1
                if cfg.patience is not None and waited > cfg.patience:
                    history.stopped_early = True
                    break
    if cfg.patience is not None and best_state is not None:
        model.load_state_dict(best_state)  # early stopping keeps the best epoch's weights
    else:
        history.best_epoch = len(history.loss)
    model.eval()
    return history


def _optimizer(model: nn.Module, cfg: FitConfig):
    kwargs = {"momentum": 0.9} if cfg.optimizer == "sgd" else {}
    optimizer = OPTIMIZERS[cfg.optimizer](model.parameters(), lr=cfg.learning_rate, **kwargs)

    def factor(epoch: int) -> float:  # cosine: lr * (1 + cos(pi * epoch / epochs)) / 2
        return 0.5 * (1 + math.cos(math.pi * epoch / cfg.epochs)) if cfg.schedule == "cosine" else 1

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _train_epoch(model, x_train, cfg, optimizer, gen, bar, epoch) -> float:
    """One pass over the training examples; returns the mean training loss."""
    model.train()
    if cfg.shuffle:
        x_train = x_train[torch.randperm(len(x_train), generator=gen)]
    total = 0.0
    for batch in x_train.split(cfg.batch_size):
        noisy = corrupt(batch, cfg.noise, cfg.noise_level, gen) if cfg.noise else batch
        terms = loss_terms(model, model(noisy), batch, cfg.loss, cfg.beta, cfg.activity_l1)
        loss = terms["loss"] + weight_penalty(model, cfg.weight_l1, cfg.weight_l2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        value = float(terms["loss"].detach())
        total += value * len(batch)
        bar.advance(f"epoch {epoch}/{cfg.epochs}  loss {value:.4f}")
    return total / len(x_train)


@torch.no_grad()
def evaluate(model: nn.Module, x: Tensor, cfg: FitConfig, batch_size: int = 1000) -> float:
    """The mean loss (without weight penalties) on x with clean inputs; VAEs still sample z."""
    model.eval()
    total = 0.0
    for batch in x.split(batch_size):
        out = model(batch, sample=True) if hasattr(model, "posterior") else model(batch)
        terms = loss_terms(model, out, batch, cfg.loss, cfg.beta, cfg.activity_l1)
        total += float(terms["loss"]) * len(batch)
    return total / len(x)


def _epoch_line(epoch: int, h: History) -> str:
    line = f"epoch {epoch}: loss {h.loss[-1]:.5f}"
    if h.val_loss:
        line += f"  val_loss {h.val_loss[-1]:.5f}"
    return line + f"  {h.seconds[-1]:.1f}s"


class _Bar:
    """A rich progress bar over all batches, or nothing when not verbose."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = None
        if enabled:
            from rich.console import Console
            from rich.progress import Progress

            self.bar = Progress(console=Console(stderr=True), transient=False)
            self.task = self.bar.add_task("", total=total)

    def __enter__(self) -> "_Bar":
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar:
            self.bar.stop()

    def advance(self, text: str) -> None:
        if self.bar:
            self.bar.update(self.task, advance=1, description=text)

    def note(self, text: str) -> None:
        if self.bar:
            self.bar.console.print(text)

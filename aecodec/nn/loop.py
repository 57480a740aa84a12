"""The skeleton every trainer shares: steps until a step count or a time budget runs out, the
learning-rate schedule over that progress, and when to log and to checkpoint.

    loop = Loop(cfg.steps, cfg.minutes, cfg.checkpoint_minutes)
    for done in loop:  # loop.step counts this step; done is the progress before it, 0..1
        lr = learning_rate(cfg.lr, done)
        ...one optimisation step...
        if loop.log_due(cfg.log_every): ...
        if loop.checkpoint_due(): ...

The trainers (the codec's, the entropy model's, the ones to come) keep only what differs: what
a step computes, what a row of the log holds, what a checkpoint saves.
"""

import time
from collections.abc import Iterator


def learning_rate(base: float, progress: float) -> float:
    """Constant, then two tenfold drops near the end (as in Ballé's and CompressAI's recipes)."""
    return base * (1.0 if progress < 0.75 else 0.1 if progress < 0.93 else 0.01)


class Loop:
    def __init__(
        self,
        steps: int,
        minutes: float | None = None,
        checkpoint_minutes: float = 10.0,
        *,
        step: int = 0,
        elapsed: float = 0.0,
    ) -> None:
        """`step` and `elapsed` (seconds) carry on a resumed run."""
        self.steps, self.minutes, self.checkpoint_minutes = steps, minutes, checkpoint_minutes
        self.step = step
        self._start = time.monotonic() - elapsed
        self._saved = time.monotonic()

    @property
    def elapsed(self) -> float:
        """Seconds of training so far, earlier runs of a resumed one included."""
        return time.monotonic() - self._start

    def progress(self) -> float:
        """How far the schedule is, 0..1: by steps or by time, whichever is further."""
        by_time = self.elapsed / 60 / self.minutes if self.minutes else 0.0
        return max(self.step / self.steps, by_time) if self.steps else 1.0

    def __iter__(self) -> Iterator[float]:
        while self.step < self.steps:
            done = self.progress()
            if done >= 1:
                return
            self.step += 1
            yield done

    def log_due(self, every: int) -> bool:
        return self.step % every == 0 or self.step == 1

    def checkpoint_due(self) -> bool:
        """True once every checkpoint_minutes (and then the clock starts again)."""
        if time.monotonic() - self._saved <= self.checkpoint_minutes * 60:
            return False
        self._saved = time.monotonic()
        return True

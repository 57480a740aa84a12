"""What training tells the user: a CSV log and a progress bar (or plain lines under nohup)."""

import csv
import sys
from pathlib import Path


class CsvLog:
    """One row per logged step, with the columns a trainer names; appended to on resume."""

    def __init__(self, path: Path, fields: list[str], resume: bool = False) -> None:
        self.fields = fields
        new = not (resume and path.exists())
        self.file = open(path, "w" if new else "a", newline="")
        self.writer = csv.DictWriter(self.file, self.fields)
        if new:
            self.writer.writeheader()

    def write(self, row: dict) -> None:
        self.writer.writerow({k: row[k] for k in self.fields})
        self.file.flush()


class Progress:
    """A rich progress bar on a terminal, plain log lines otherwise (for nohup logs)."""

    def __init__(self, total: int, completed: int, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None
        if enabled and sys.stderr.isatty():
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(*RichProgress.get_default_columns(), "{task.fields[info]}")
            self.task = self.bar.add_task("training", total=total, completed=completed, info="")
            self.bar.start()

    def update(self, step: int, row: dict) -> None:
        info = f"loss {row['loss']:.3f}  {row['bpp']:.3f} bpp"
        if "psnr" in row:
            info += f"  {row['psnr']:.2f} dB"
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

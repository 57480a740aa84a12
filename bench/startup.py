"""Start-up time of each `aecodec` command, as a user meets it: a fresh process per run.

    python bench/startup.py [--runs 7] [--commands help,info,models]

Each command runs `--runs` times in a new process (the installed `aecodec` script beside this
Python, else `python -m aecodec`) and the table gives the median wall time, the fastest run, and
whether the process imported torch (`python -X importtime` of one more run). Commands that code
an image use a 64x64 PNG and the shipped default model, so their time is start-up plus a little
work. A failing command is shown with its exit status (an older aecodec may lack an option).
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden-v2-hyperprior-sc-joint.aec"


def commands(work: Path) -> dict[str, list[str]]:
    """Name -> arguments after `aecodec`; files live in `work`."""
    image, packed = work / "a.png", work / "a.aec"
    return {
        "help": ["--help"],
        "version": ["--version"],
        "compress --help": ["compress", "--help"],
        "info": ["info", str(GOLDEN)],
        "models": ["models"],
        "autoencoders": ["autoencoders"],
        "text --help": ["text", "--help"],
        "compress 64x64": ["compress", str(image), "-o", str(packed), "--force"],
        "decompress 64x64": ["decompress", str(packed), "-o", str(work / "b.png"), "--force"],
    }


def entry() -> list[str]:
    script = Path(sys.executable).parent / "aecodec"
    return [str(script)] if script.exists() else [sys.executable, "-m", "aecodec"]


def time_once(args: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run([*entry(), *args], capture_output=True, cwd=ROOT, env=_env(), check=False)
    return time.perf_counter() - start, done.returncode


def imports_torch(args: list[str]) -> bool:
    """Whether the command imports torch (from `python -X importtime`'s report on stderr)."""
    code = "import sys; sys.argv[0] = 'aecodec'; from aecodec.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, *args],
        capture_output=True, text=True, cwd=ROOT, env=_env(), check=False,
    )  # fmt: skip
    return any(re.search(r"\|\s*torch$", line.rstrip()) for line in done.stderr.splitlines())


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("AECODEC_MODELS", None)  # the shipped models only, as a new user has them
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per command (median)")
    parser.add_argument("--commands", help="comma-separated names of the table's rows")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="aecodec-startup-"))
    try:
        rng = np.random.default_rng(0)
        pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(work / "a.png")
        table = commands(work)
        chosen = args.commands.split(",") if args.commands else list(table)
        print(f"# {' '.join(entry())}; median of {args.runs} runs; {time.strftime('%Y-%m-%d')}")
        print("| command | median s | fastest s | torch imported | exit |")
        print("|---|---:|---:|---|---:|")
        for name in chosen:
            times, codes = zip(*(time_once(table[name]) for _ in range(args.runs)), strict=True)
            torch_imported = "yes" if imports_torch(table[name]) else "no"
            code = max(codes, key=abs)
            row = f"| aecodec {name} | {statistics.median(times):.2f} | {min(times):.2f} |"
            print(f"{row} {torch_imported} | {code} |", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

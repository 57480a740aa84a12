"""Start-up time of each `aecodec` command, as a user meets it: a fresh process per run.

    python bench/startup.py [--runs 7] [--commands help,info,models] [--source DIR]
                            [--photo ../shared/data/kodak/kodim23.png]

Each command runs `--runs` times in a new process (the installed `aecodec` script beside this
Python, else `python -m aecodec`; with `--source`, `python -m aecodec` from that checkout, such
as an earlier commit's `git worktree`) and the table gives the median wall time, the fastest
run, and whether the process imported torch (`python -X importtime` of one more run). Commands
that code an image use a 64x64 PNG and the shipped default model, so their time is start-up
plus a little work; "decompress photo" decodes a whole photo (a Kodak image, coded at quality
50 by the same aecodec before the runs). A failing command shows its exit status (an older
aecodec may lack one).
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
        "decompress photo": [
            "decompress",
            str(work / "photo.aec"),
            "-o",
            str(work / "c.png"),
            "--force",
        ],  # fmt: skip
    }


SOURCE: Path | None = None  # a checkout to run instead of the installed aecodec (--source)


def entry() -> list[str]:
    script = Path(sys.executable).parent / "aecodec"
    if SOURCE is None and script.exists():
        return [str(script)]
    return [sys.executable, "-m", "aecodec"]


def time_once(args: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(
        [*entry(), *args], capture_output=True, cwd=SOURCE or ROOT, env=_env(), check=False
    )
    return time.perf_counter() - start, done.returncode


def imports_torch(args: list[str]) -> bool:
    """Whether the command imports torch (from `python -X importtime`'s report on stderr)."""
    code = "import sys; sys.argv[0] = 'aecodec'; from aecodec.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, *args],
        capture_output=True, text=True, cwd=SOURCE or ROOT, env=_env(), check=False,
    )  # fmt: skip
    return any(re.search(r"\|\s*torch$", line.rstrip()) for line in done.stderr.splitlines())


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("AECODEC_MODELS", None)  # the shipped models only, as a new user has them
    env.setdefault("OMP_NUM_THREADS", "1")
    if SOURCE is not None:
        env["PYTHONPATH"] = str(SOURCE)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per command (median)")
    parser.add_argument("--commands", help="comma-separated names of the table's rows")
    parser.add_argument("--source", type=Path, help="run `python -m aecodec` from this checkout")
    parser.add_argument("--photo", type=Path, default=ROOT.parent / "shared/data/kodak/kodim23.png")
    args = parser.parse_args()
    global SOURCE
    SOURCE = args.source.resolve() if args.source else None
    work = Path(tempfile.mkdtemp(prefix="aecodec-startup-"))
    try:
        rng = np.random.default_rng(0)
        pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(work / "a.png")
        table = commands(work)
        chosen = args.commands.split(",") if args.commands else list(table)
        if "decompress photo" in chosen:  # its file, coded by the aecodec under test
            photo = str(args.photo.resolve())
            time_once(["compress", photo, "-o", str(work / "photo.aec"), "-q", "50"])
        where = f" in {SOURCE}" if SOURCE else ""
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"# {' '.join(entry())}{where}; median of {args.runs} runs; load {load}; "
              f"{time.strftime('%Y-%m-%d %H:%M')}")  # fmt: skip
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

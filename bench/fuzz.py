"""Structure-aware fuzzing of the .aec decoder: mutated files in, counted outcomes out.

    python bench/fuzz.py --minutes 3 --save runs/fuzz           # a short look
    python bench/fuzz.py --count 1000000 --recomputed-fraction 0.1 --save runs/fuzz   # the long run

Seeds are small valid files (16x16 to 96x96; L, LA, RGB, RGBA; several qualities) made at
start-up with the shipped default model. Each case takes one seed, splits it into its fields
(docs/format.md) and changes one to three of them: a field set to a boundary value, bits
flipped, the file cut or grown inside any field, payloads zeroed, emptied, cut, extended,
duplicated, dropped, swapped or taken from another seed, payload lengths that disagree with the
data, model names that are paths or 255 bytes long. In raw mode the checksums stay as they were
(the CRCs must refuse nearly everything); in recomputed mode both CRC-32s are rewritten where a
reader looks for them, so the file reaches the header checks and the entropy decoder. Case i
of a run is a pure function of (--seed, i): any case can be made again from its number.

Every case goes through `aecodec.decompress(data, max_pixels=LIMIT)` (without the keyword on an
aecodec that lacks it). Outcomes: `ok`, a clean refusal (an AecodecError, counted by class and
by the first words of its message), and the bugs: `crash` (any other exception, or the worker
died), `slow` (twice over the time bound), `memory` (over the memory bound, a MemoryError, or a
failed allocation, even one reported as an AecodecError), `hang` (killed by the watchdog).

Bounds, per pixel the codec works on for the size the header claims (each side padded to 64: a
1x8192 image costs what 64x8192 does; a tiny file may describe a large flat image; LIMIT is what
stops a bomb). Measured 2026-12-01 on the 2-core machine with one thread per worker, a valid file
decodes in about 20 ms + 4 to 5.5 us of CPU per pixel and its peak RSS grows by about 800 bytes
per pixel (384x384: 0.8 s, +107 MiB; 1024x1024: 4.3 s, +300 MiB); each run measures a 384x384
file again and prints it beside the bounds. Allowed, with room for a busy machine:
    time    TIME_BASE + TIME_PER_PIXEL x pixels       = 1 s + 40 us of CPU per pixel
    memory  MEMORY_BASE + MEMORY_PER_PIXEL x pixels   = 256 MiB + 2 KiB per pixel (peak RSS)
Each worker's address space is capped (RLIMIT_AS) at its size after start-up plus the memory
bound at LIMIT pixels, so a larger allocation fails at once; the watchdog kills a worker whose
case runs past 2 x the time bound at LIMIT pixels + 10 s.

Throughput on that machine, shared (load 6), 2 workers: 700 to 950 files/s with a tenth of them
recomputed (a raw file is refused in 0.1 to 0.2 ms, a recomputed one takes 18 to 25 ms on
average), so 10^6 files with 10^5 recomputed take 20 to 25 minutes.
"""

import argparse
import functools
import inspect
import multiprocessing as mp
import multiprocessing.connection
import re
import resource
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from fuzz_cases import Case, claimed_pixels, make_case
from PIL import Image, ImageCms

import aecodec
from aecodec.errors import AecodecError

LIMIT = 1 << 20
TIME_BASE, TIME_PER_PIXEL = 1.0, 40e-6  # CPU seconds
MEMORY_BASE, MEMORY_PER_PIXEL = 256 << 20, 2048  # bytes of peak RSS
BUGS = ("crash", "slow", "memory", "hang")
SEED_SPECS = [  # (height, width, layout, quality, with metadata): small, so decodes are fast
    (16, 16, "L", 0, False),
    (24, 40, "LA", 37.5, False),
    (32, 32, "RGB", 75, True),
    (17, 33, "RGBA", 100, False),
    (48, 64, "RGB", 12.34, False),
    (64, 48, "L", 90, False),
    (40, 40, "RGBA", 50, True),
    (96, 96, "RGB", 60, False),
]


def make_seeds(seed: int = 0, specs: list[tuple] = SEED_SPECS) -> list[bytes]:
    """Small valid .aec files from the shipped default model, one per entry of `specs`; two of
    SEED_SPECS carry an ICC profile, EXIF and XMP (the metadata block)."""
    rng, seeds = np.random.default_rng(seed), []
    for h, w, layout, quality, metadata in specs:
        yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
        planes = [0.5 + 0.4 * np.sin(rng.uniform(2, 9) * xx + rng.uniform(0, 6) * yy)]
        planes += [0.5 + 0.4 * np.cos(rng.uniform(2, 9) * yy) for _ in layout[1:]]
        pixels = np.stack(planes, -1) + rng.normal(0, 0.05, (h, w, len(layout)))
        pixels = (np.clip(pixels, 0, 1) * 255).astype(np.uint8)
        image = Image.fromarray(pixels[..., 0] if layout == "L" else pixels, layout)
        if metadata:
            image.info.update(_metadata())
        seeds.append(aecodec.compress(image, quality))
    return seeds


def _metadata() -> dict:
    """An sRGB profile, EXIF with a description, and a minimal XMP packet, as Pillow reads them."""
    exif = Image.Exif()
    exif[0x010E] = "fuzz seed"  # ImageDescription
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return {"icc_profile": profile, "exif": exif.tobytes(), "xmp": b'<x:xmpmeta xmlns:x="x"/>'}


# Judging one case ----------------------------------------------------------------------------

_OOM = re.compile(r"can't allocate|cannot allocate|out of memory|MemoryError|not enough memory")


def time_bound(pixels: int) -> float:
    return TIME_BASE + TIME_PER_PIXEL * pixels


def memory_bound(pixels: int) -> int:
    return MEMORY_BASE + MEMORY_PER_PIXEL * pixels


@functools.lru_cache(maxsize=1)
def takes_max_pixels() -> bool:
    """Whether aecodec.decompress has the max_pixels= keyword (it is being added)."""
    return "max_pixels" in inspect.signature(aecodec.decompress).parameters


def decode(data: bytes, limit: int) -> tuple[str, str]:
    """(outcome, detail) of decompressing `data`: "ok", an AecodecError's class name with the
    first words of its message, or "crash"/"memory" with the traceback's last lines."""
    try:
        aecodec.decompress(data, **({"max_pixels": limit} if takes_max_pixels() else {}))
        return "ok", ""
    except AecodecError as error:
        if _out_of_memory(error):  # under the cap, an allocation failure is over the bound
            return "memory", last_lines()
        return type(error).__name__, first_words(str(error))
    except Exception as error:  # MemoryError too: a bug either way, kept with its traceback
        return ("memory" if _out_of_memory(error) else "crash"), last_lines()


def _out_of_memory(error: BaseException | None) -> bool:
    """Whether an allocation failed, here or in an error this one replaced (`from None` hides
    the context from tracebacks, not from __context__)."""
    while error is not None:
        if isinstance(error, MemoryError) or _OOM.search(str(error)):
            return True
        error = error.__context__
    return False


def first_words(text: str, count: int = 5) -> str:
    """A message's first words with names and numbers blanked, to count refusals by kind."""
    text = re.sub(r"'[^']*'", "'…'", text)
    return " ".join(re.sub(r"\d+", "N", text).split()[:count])


def last_lines(count: int = 6) -> str:
    return "".join(traceback.format_exc().strip().splitlines(keepends=True)[-count:])


def judge(
    data: bytes, limit: int, measure_memory: bool = False, retry: bool = True
) -> tuple[str, str]:
    """decode(), with its CPU time and (if asked) peak memory held to the bounds for the size the
    header claims. CPU time, not wall time: the machine is shared; and a slow decode is timed
    once more (unless not `retry`) so that a busy moment alone does not make a bug."""
    pixels = min(claimed_pixels(data), limit)  # a file over the limit must be refused at once
    before = _reset_peak() if measure_memory else None
    start = time.process_time()
    outcome, detail = decode(data, limit)
    seconds = time.process_time() - start
    if outcome in BUGS:
        return outcome, detail
    if before is not None:
        growth = _status("VmHWM:") - before
        if growth > memory_bound(pixels):
            return "memory", f"peak RSS +{growth >> 20} MiB for {pixels} pixels ({outcome})"
    if seconds > time_bound(pixels) and retry:
        start = time.process_time()
        decode(data, limit)
        seconds = min(seconds, time.process_time() - start)
    if seconds > time_bound(pixels):
        bound = time_bound(pixels)
        return "slow", f"{seconds:.2f} s for {pixels} pixels, bound {bound:.2f} s ({outcome})"
    return outcome, detail


def calibrate(side: int = 384) -> str:
    """A valid side x side file's decode, measured here (CPU time, peak RSS), against the bounds:
    what the bounds are for, on this machine today."""
    yy, xx = np.mgrid[0:side, 0:side] / side
    image = (127 + 100 * np.sin(9 * xx) * np.cos(7 * yy)).astype(np.uint8)
    data, pixels = aecodec.compress(np.stack([image] * 3, -1), 75), side * side
    decode(data, LIMIT)  # the model and its float64 synthesis, loaded before the measurement
    before = _reset_peak()
    start = time.process_time()
    outcome, _ = decode(data, LIMIT)
    seconds = time.process_time() - start
    growth = _status("VmHWM:") - before if before is not None else 0
    return (
        f"a valid {side}x{side} file ({outcome}) decodes here in {seconds:.2f} s of CPU "
        f"({1e6 * seconds / pixels:.1f} us/pixel, bound {time_bound(pixels):.2f} s) with peak RSS "
        f"+{growth >> 20} MiB ({growth // pixels} B/pixel, bound {memory_bound(pixels) >> 20} MiB)"
    )


def warm(seeds: list[bytes]) -> None:
    """Decode the seeds once: loads and caches the model, so no case pays for that."""
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we judge by the bounds
    for data in seeds:
        outcome, detail = decode(data, LIMIT)
        if outcome != "ok":
            raise RuntimeError(f"a seed does not decode: {outcome} {detail}")


def _status(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key):
                return int(line.split()[1]) << 10
    return 0


def _reset_peak() -> int | None:
    """Reset this process's peak RSS (Linux: clear_refs 5); its value now, or None."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
    except OSError:
        return None
    return _status("VmHWM:")


# Counting ------------------------------------------------------------------------------------


@dataclass
class Stats:
    files: int = 0
    outcomes: Counter = field(default_factory=Counter)  # (mode, outcome)
    messages: Counter = field(default_factory=Counter)  # (class, first words)
    mutations: Counter = field(default_factory=Counter)  # (mutation kind, mode, outcome)
    seconds: Counter = field(default_factory=Counter)  # mode -> seconds spent in judge()
    failures: list = field(default_factory=list)  # (index, mode, outcome, label, detail)
    rss: dict = field(default_factory=dict)  # worker -> its RSS growth since start-up, bytes

    def record(self, case: Case, outcome: str, detail: str, seconds: float = 0.0) -> None:
        self.files += 1
        self.outcomes[case.mode, outcome] += 1
        self.seconds[case.mode] += seconds
        if outcome in BUGS:
            self.failures.append((case.index, case.mode, outcome, case.label, detail))
        elif outcome != "ok":
            self.messages[outcome, detail] += 1
        for kind in {mutation_kind(part) for part in case.label.split("+")}:
            self.mutations[kind, case.mode, outcome] += 1

    def add(self, other: "Stats") -> None:
        self.files += other.files
        for mine, theirs in [(self.outcomes, other.outcomes), (self.messages, other.messages)]:
            mine.update(theirs)
        self.mutations.update(other.mutations)
        self.seconds.update(other.seconds)
        self.failures += other.failures
        self.rss.update(other.rss)  # the latest chunk's: a leak shows as growth over the run

    def bugs(self) -> int:
        return sum(n for (_, outcome), n in self.outcomes.items() if outcome in BUGS)


# Byte-level mutations count by region, not by each of the 20-odd fields they may hit.
_REGIONS = {"name": "name", "len": "lengths", "payload": "payload", "tail": "tail"}
_REGIONS |= {"header_crc": "crc", "file_crc": "crc"}


def mutation_kind(label: str) -> str:
    """What to count a mutation by: "payload1-zero" -> "payload-zero", "set-width=max" ->
    "set-width", "flip-quality" -> "flip-fields"."""
    kind = re.sub(r"(payload|len)\d+", r"\1", label.split("=")[0])
    what, _, where = kind.partition("-")
    if what in ("flip", "cut", "insert", "delete", "double"):
        return f"{what}-{_REGIONS.get(where, 'fields')}"
    return kind


@dataclass(frozen=True)
class Run:
    """What a run's cases are made from; case i is `Run.case(i)` wherever it is made."""

    seeds: tuple[bytes, ...]
    seed: int = 0
    fraction: float = 0.1  # of the cases in recomputed mode
    limit: int = LIMIT  # max_pixels
    deadline: float = float("inf")  # time.time() to stop at

    def case(self, index: int) -> Case:
        return make_case(list(self.seeds), self.seed, index, self.fraction, self.limit)


def fuzz_range(
    run: Run, start: int, stop: int, progress=None, measure_memory: bool = False
) -> tuple[Stats, int]:
    """Cases start..stop-1 in this process: their Stats and the index it stopped before (the
    deadline may come first). `progress(index)` is called before each decode (the watchdog)."""
    stats = Stats()
    for index in range(start, stop):
        if time.time() > run.deadline:
            return stats, index
        case = run.case(index)
        if progress is not None:
            progress(index)
        began = time.perf_counter()
        recomputed = measure_memory and case.mode == "recomputed"
        outcome, detail = judge(case.data, run.limit, recomputed)
        stats.record(case, outcome, detail, time.perf_counter() - began)
    return stats, stop


# Workers and the watchdog --------------------------------------------------------------------

CHUNK = 200  # cases per message between a worker and the parent


def _worker(number: int, conn, run: Run, progress) -> None:
    """Decode chunks of cases until told to stop; one model per worker, one thread, capped."""
    torch.set_num_threads(1)  # the workers are the parallelism
    warm(run.seeds)  # the cap is set on a warm process
    cap = _status("VmSize:") + memory_bound(run.limit)
    resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
    conn.send(("ready", cap))
    rss = _status("VmRSS:")
    while (task := conn.recv()) is not None:
        start, stop = task
        progress[4 * number + 2 : 4 * number + 4] = [start, stop]

        def started(index: int) -> None:
            progress[4 * number : 4 * number + 2] = [index, time.time()]

        stats, reached = fuzz_range(run, start, stop, started, measure_memory=True)
        progress[4 * number + 1] = 0.0
        stats.rss[number] = _status("VmRSS:") - rss
        conn.send((start, reached, stats))


class Pool:
    """Worker processes fed chunks of case numbers, watched for hangs and deaths."""

    def __init__(self, run: Run, workers: int) -> None:
        self.context = mp.get_context("spawn")  # a fresh interpreter: no forked torch threads
        self.run = run
        self.progress = self.context.Array("d", 4 * workers, lock=False)
        self.procs, self.conns, self.busy = [None] * workers, [None] * workers, [False] * workers
        self.cap = 0
        for number in range(workers):  # all start together, then each says it is warm
            self._start(number)
        for number in range(workers):
            self._ready(number)

    def _start(self, number: int) -> None:
        parent, child = self.context.Pipe()
        args = (number, child, self.run, self.progress)
        proc = self.context.Process(target=_worker, args=args, daemon=True)
        proc.start()
        self.procs[number], self.conns[number], self.busy[number] = proc, parent, False
        self.progress[4 * number + 1] = 0.0

    def _ready(self, number: int) -> None:
        try:
            _, self.cap = self.conns[number].recv()  # its address-space cap, once it is warm
        except EOFError:
            raise RuntimeError(f"fuzz worker {number} died while starting") from None

    def fuzz(self, chunks: list[tuple[int, int]], hang_seconds: float) -> Stats:
        """Every chunk's Stats, merged; a hung or dead worker's case recorded, its chunk redone."""
        stats, chunks = Stats(), list(reversed(chunks))
        while chunks or any(self.busy):
            for number, conn in enumerate(self.conns):
                if not self.busy[number] and chunks:
                    conn.send(chunks.pop())
                    self.busy[number] = True
            waiting = [c for c, busy in zip(self.conns, self.busy, strict=True) if busy]
            ready = mp.connection.wait(waiting, 0.5)
            for conn in ready:
                number = self.conns.index(conn)
                try:
                    _, _, part = conn.recv()
                except EOFError:
                    continue  # it died: _watch() below restarts it and records the case
                stats.add(part)
                self.busy[number] = False
            for number in range(len(self.procs)):
                chunks += self._watch(number, hang_seconds, stats)
        for conn in self.conns:
            conn.send(None)
        return stats

    def _watch(self, number: int, hang_seconds: float, stats: Stats) -> list[tuple[int, int]]:
        """Kill a worker stuck on one case past hang_seconds, or notice one that died; record
        the case and return the rest of its chunk to be done again by a fresh worker."""
        proc, base = self.procs[number], 4 * number
        index, since, start, stop = self.progress[base : base + 4]
        index, start, stop = int(index), int(start), int(stop)
        if not self.busy[number] or (
            proc.is_alive() and not (since and time.time() - since > hang_seconds)
        ):
            return []
        outcome = "hang" if proc.is_alive() else "crash"
        detail = (
            f"killed after {hang_seconds:.0f} s" if proc.is_alive() else f"exit {proc.exitcode}"
        )
        proc.kill()
        proc.join()
        stats.record(self.run.case(index), outcome, detail)
        self._start(number)
        self._ready(number)
        return [(i, j) for i, j in [(start, index), (index + 1, stop)] if i < j]


# The report ----------------------------------------------------------------------------------


def table(stats: Stats, elapsed: float) -> str:
    """Counts per outcome and mode, then refusals by message and cases by mutation."""
    modes = ("raw", "recomputed")
    found = {outcome for _, outcome in stats.outcomes}
    order = ["ok", *sorted(found - {"ok", *BUGS}), *BUGS]
    lines = ["| outcome | raw | recomputed | all |", "|---|---:|---:|---:|"]
    for outcome in order:
        counts = [stats.outcomes[mode, outcome] for mode in modes]
        lines.append(f"| {outcome} | {counts[0]:,} | {counts[1]:,} | {sum(counts):,} |")
    files = [sum(n for (m, _), n in stats.outcomes.items() if m == mode) for mode in modes]
    lines.append(f"| **files** | {files[0]:,} | {files[1]:,} | {sum(files):,} |")
    per_file = [1e3 * stats.seconds[m] / max(f, 1) for m, f in zip(modes, files, strict=True)]
    lines.append(f"| ms per file | {per_file[0]:.3f} | {per_file[1]:.2f} | |")
    lines += ["", f"{stats.files:,} files in {elapsed:.0f} s: {stats.files / elapsed:,.0f} files/s"]
    lines += ["", "| refusal | first words of the message | files |", "|---|---|---:|"]
    for (kind, words), n in stats.messages.most_common(25):
        lines.append(f"| {kind} | {words.replace('|', '/')} | {n:,} |")
    return "\n".join([*lines, "", *_mutation_table(stats)])


def _mutation_table(stats: Stats) -> list[str]:
    lines = ["| mutation | raw | recomputed | recomputed ok | bugs |", "|---|---:|---:|---:|---:|"]
    for kind in sorted({kind for kind, _, _ in stats.mutations}):
        row = Counter()
        for (k, mode, outcome), n in stats.mutations.items():
            if k == kind:
                row[mode] += n
                row["ok"] += n if (mode, outcome) == ("recomputed", "ok") else 0
                row["bugs"] += n if outcome in BUGS else 0
        cells = " | ".join(f"{row[c]:,}" for c in ("raw", "recomputed", "ok", "bugs"))
        lines.append(f"| {kind} | {cells} |")
    return lines


def bounds_text(limit: int, cap: int, hang_seconds: float) -> str:
    keyword = "max_pixels=" + (f"{limit:,}" if takes_max_pixels() else "unsupported: not passed")
    return (
        f"bounds: time {TIME_BASE:g} s + {TIME_PER_PIXEL * 1e6:g} us/pixel, memory "
        f"{MEMORY_BASE >> 20} MiB + {MEMORY_PER_PIXEL} B/pixel (peak RSS); {keyword}; address "
        f"space cap {cap / 2**30:.1f} GiB per worker; watchdog {hang_seconds:.0f} s"
    )


def save(stats: Stats, run: Run, folder: Path) -> None:
    """Each bug's file, named for what happened and which mutation, with its details beside."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, mode, outcome, label, detail in stats.failures:
        case = run.case(index)
        stem = f"{outcome}-{mode}-{index}-{re.sub(r'[^A-Za-z0-9=+.-]', '_', label)[:80]}"
        (folder / f"{stem}.aec").write_bytes(case.data)
        (folder / f"{stem}.txt").write_text(f"{label}\n{detail}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="cases to run")
    parser.add_argument("--recomputed-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="0: in this process, no watchdog")
    parser.add_argument("--minutes", type=float, default=None, help="stop after this long")
    parser.add_argument("--max-pixels", type=int, default=LIMIT)
    parser.add_argument("--save", type=Path, default=None, help="folder for the bugs' files")
    args = parser.parse_args(argv)
    began = time.time()
    torch.set_num_threads(1)  # as in the workers: on a busy machine idle threads only spin
    seeds = make_seeds(args.seed)
    deadline = began + 60 * args.minutes if args.minutes else float("inf")
    run = Run(tuple(seeds), args.seed, args.recomputed_fraction, args.max_pixels, deadline)
    hang_seconds = 2 * time_bound(args.max_pixels) + 10
    print(f"{len(seeds)} seeds of {min(map(len, seeds))}..{max(map(len, seeds))} bytes")
    print(calibrate())
    if args.workers:
        pool = Pool(run, args.workers)
        chunks = [(i, min(i + CHUNK, args.count)) for i in range(0, args.count, CHUNK)]
        started = time.time()
        stats, cap = pool.fuzz(chunks, hang_seconds), pool.cap
    else:
        warm(seeds)
        started, cap = time.time(), 0
        stats, _ = fuzz_range(run, 0, args.count)
    print(table(stats, time.time() - started))
    print("\n" + bounds_text(args.max_pixels, cap, hang_seconds))
    if stats.rss:
        growth = ", ".join(f"{n >> 20} MiB" for _, n in sorted(stats.rss.items()))
        print(f"workers' RSS growth since start-up, at the end: {growth}")
    for index, mode, outcome, label, detail in stats.failures[:20]:
        print(f"\n{outcome} ({mode}) case {index}: {label}\n{detail}")
    if args.save and stats.failures:
        save(stats, run, args.save)
        print(f"\n{len(stats.failures)} files written to {args.save}")
    return 1 if stats.bugs() else 0


if __name__ == "__main__":
    raise SystemExit(main())

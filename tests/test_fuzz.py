"""A hostile .aec file gets a clean AecodecError or decodes: never another exception, never an
unbounded time or allocation. A short run of the fuzzing harness (bench/fuzz.py) finds nothing,
and every file a longer run ever found (tests/data/fuzz/, named for the bug) stays fixed."""

import importlib.util
import sys
import time
from pathlib import Path

import pytest
import torch


def load_script(name: str):
    """A bench/ script as a module (scripts are not API), registered so that fuzz.py finds
    fuzz_cases; sys.path stays as it is, so bench's other scripts never shadow a module."""
    path = Path(__file__).parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fuzz_cases = load_script("fuzz_cases")
fuzz = load_script("fuzz")
LIMIT = fuzz.LIMIT
CORPUS = sorted((Path(__file__).parent / "data" / "fuzz").glob("*.aec"))
# Files of the corpus the decoder still gets wrong: name -> why (xfail until it is fixed).
STILL_FAILING: dict[str, str] = {}


@pytest.fixture(scope="module")
def seeds() -> list[bytes]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a busy machine, idle threads spin: 20 times slower here
    try:
        return fuzz.make_seeds(0, fuzz.SEED_SPECS[:4])  # L, LA, RGB with metadata, RGBA: quick
    finally:
        torch.set_num_threads(threads)


def test_a_file_splits_into_its_fields_and_joins_back(seeds):
    for data in seeds:
        segments = fuzz_cases.split(data)
        assert fuzz_cases.join(segments) == data
        assert fuzz_cases.fix_crcs(data) == data  # its checksums are already right
        names = [name for name, _ in segments]
        assert names[:4] == ["magic", "version", "flags", "n"] and names[-1] == "file_crc"


def test_cases_are_a_function_of_seed_and_number(seeds):
    first = [fuzz_cases.make_case(seeds, 3, i, 0.5, LIMIT) for i in range(200)]
    again = [fuzz_cases.make_case(seeds, 3, i, 0.5, LIMIT) for i in range(200)]
    assert [c.data for c in first] == [c.data for c in again]
    assert not any(c.data in seeds for c in first)  # every case changes its seed
    assert {c.mode for c in first} == {"raw", "recomputed"}


def test_a_short_run_finds_no_bug_and_raw_damage_never_decodes(seeds, one_thread):
    fuzz.warm(seeds)
    run = fuzz.Run(tuple(seeds), seed=1, fraction=0.25, deadline=time.time() + 30)
    stats, _ = fuzz.fuzz_range(run, 0, 300)
    assert stats.bugs() == 0, stats.failures
    assert stats.outcomes["raw", "ok"] == 0  # the checksums catch what they should
    recomputed = sum(n for (mode, _), n in stats.outcomes.items() if mode == "recomputed")
    assert recomputed > 40 and stats.outcomes["recomputed", "ok"] > 0


def corpus_case(path: Path):
    """A corpus file as a test parameter: xfail while the decoder still gets it wrong, and slow
    (skipped by a plain pytest) when it is a slow case, which takes seconds until it is fixed."""
    marks = [pytest.mark.slow] if path.name.startswith("slow-") else []
    if path.name in STILL_FAILING:
        marks.append(pytest.mark.xfail(strict=False, reason=STILL_FAILING[path.name]))
    return pytest.param(path, marks=marks, id=path.stem)


@pytest.mark.parametrize("path", [corpus_case(p) for p in CORPUS])
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # judged by the bounds
def test_a_file_the_fuzzer_found_is_refused_cleanly(path, one_thread):
    outcome, detail = fuzz.judge(path.read_bytes(), LIMIT, measure_memory=True, retry=False)
    assert outcome not in fuzz.BUGS, f"{outcome}: {detail}"

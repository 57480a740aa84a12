"""The README's commands, exactly as written: each `aecodec` command parses against the command
line (fast), and every shell and Python block runs, top to bottom, in a fresh folder that holds
what its commands read (slow: each command is a new process).

Conventions for the README's code blocks (new sections follow them without touching this file):
- A ```sh block runs line by line with bash, in a fresh folder holding the FIXTURES below and
  with ../shared beside it; each line must exit 0. Later lines see what earlier ones wrote.
- `<!-- readme: parse-only (reason) -->` on the line before a block: its commands are checked
  against their program's options (aecodec's, a bench script's argparse, torchrun's), never run.
  For what takes minutes, runs forever (a server) or needs data no test has.
- The set-up steps (`python3 -m venv`, `. .venv/bin/activate`, `pip install`) and the test suite
  itself (`ruff`, `python -m pytest`) are never run here: they must be steps of .ci/run, which is
  what runs them. The other steps of the same line run as usual.
- A ```python block runs as a script in such a folder.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
SHARED = ROOT.parent / "shared"
MARKER = re.compile(r"<!-- readme: parse-only \((.+?)\) -->")
SETUP = ("python3 -m venv", ". .venv/bin/activate", "pip install")
SUITE = ("ruff ", "python -m pytest")
SEPARATORS = {"&&", "||", "|", ";"}
# What the README's commands read, made in every folder they run in: its photos (one noisy, one
# with a transparent hole, and a mask of scratches), a file of a larger image, a file of format
# 2, a text, a model saved by path, and ../shared (the data the README names).
FIXTURES = (
    "photo.png, other.png, noisy.png, cutout.png, scratches.png, big.aec, old.aec, book.txt, "
    "runs/mine/model.safetensors"
)


def blocks(text: str) -> list[tuple[str, str, str | None, int]]:
    """(language, code, parse-only reason or None, line number) of each fenced block."""
    found = []
    for match in re.finditer(r"^```(\w+)\n(.*?)^```", text, re.S | re.M):
        before = text[: match.start()].rstrip().splitlines()[-1:] or [""]
        marker = MARKER.fullmatch(before[0].strip())
        line = text[: match.start()].count("\n") + 1
        found.append((match[1], match[2], marker[1] if marker else None, line))
    return found


def commands(code: str) -> list[str]:
    """Shell lines, continuations joined; blank and comment-only lines left out."""
    joined = re.sub(r"\\\n\s*", " ", code)
    return [line.strip() for line in joined.splitlines() if shlex.split(line, comments=True)]


def steps(line: str) -> list[list[str]]:
    """The simple commands of a shell line: split at &&, ||, | and ;, redirections and
    environment assignments left out."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    found, current, tokens = [], [], list(lexer)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in SEPARATORS:
            found.append(current)
            current = []
        elif token in (">", ">>", "<"):
            i += 1  # and its file
        elif not current and re.fullmatch(r"[A-Z_]+=\S*", token):
            pass
        else:
            current.append(token)
        i += 1
    return [step for step in found + [current] if step]


def is_setup(step: list[str]) -> bool:
    return shlex.join(step).startswith(SETUP) or shlex.join(step).startswith(SUITE)


def shell_lines(parse_only: bool | None = None) -> list[tuple[str, str | None]]:
    """Every shell line of the README with its block's parse-only reason (None: it runs)."""
    return [
        (line, reason)
        for language, code, reason, _ in blocks(README.read_text())
        if language == "sh" and (parse_only is None or (reason is not None) == parse_only)
        for line in commands(code)
    ]


def parse_aecodec(args: list[str]) -> None:
    """Parse a command line as `aecodec` would, down to the command, without running it: an
    unknown command or option, or a value of the wrong type, raises click's UsageError."""
    import typer

    from aecodec.cli import app

    group = typer.main.get_command(app)
    ctx = group.make_context("aecodec", list(args))
    while hasattr(ctx.command, "commands") and _left(ctx):  # a group: go on to its command
        name, command, rest = ctx.command.resolve_command(ctx, _left(ctx))
        ctx = command.make_context(name, rest, parent=ctx)


def _left(ctx) -> list[str]:
    """The arguments a group left for its command: click keeps the command's name apart."""
    protected = getattr(ctx, "_protected_args", None)
    return [*(getattr(ctx, "protected_args", []) if protected is None else protected), *ctx.args]


AECODEC_COMMANDS = [
    step
    for line, _ in shell_lines()
    for step in steps(line)
    if step[0] == "aecodec" or step[:1] == ["torchrun"]
]


@pytest.mark.parametrize("step", AECODEC_COMMANDS, ids=shlex.join)
def test_every_aecodec_command_in_the_readme_parses(step):
    if step[0] == "torchrun":  # torchrun ... -m aecodec ARGS
        step = ["aecodec", *step[step.index("-m") + 2 :]]
    parse_aecodec(step[1:])


def test_the_readme_has_commands_and_marks_well_formed():
    text = README.read_text()
    assert len(AECODEC_COMMANDS) > 20
    assert text.count("<!-- readme:") == len(MARKER.findall(text)), "a malformed marker"


def test_setup_and_test_commands_are_those_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    ci_steps = [shlex.join(step) for line in ci.splitlines() for step in steps(line)]
    found = [step for line, _ in shell_lines() for step in steps(line) if is_setup(step)]
    assert len(found) >= 8  # the two set-up lines: venv, activate, install; lint and tests
    for step in found:
        text = shlex.join(step)
        if text.startswith("pip install"):  # the README installs what it needs: extras differ
            text = re.sub(r"-e \S+", "-e", text)
            assert text in [re.sub(r"-e \S+", "-e", s) for s in ci_steps], text
        else:
            assert text in ci_steps, f"README step `{text}` is not a step of .ci/run"


# --- Running them ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> Path:
    """A folder with what the README's commands read (FIXTURES), made once; copied per block."""
    import aecodec
    from tests.conftest import save_tiny, smooth_image

    folder = tmp_path_factory.mktemp("readme") / "work"
    (folder / "runs" / "mine").mkdir(parents=True)
    photo = smooth_image(64, 96, seed=1)
    Image.fromarray(photo).save(folder / "photo.png")
    Image.fromarray(smooth_image(48, 64, seed=2)).save(folder / "other.png")
    noise = np.random.default_rng(1).normal(0, 25, photo.shape)
    noisy = np.clip(photo + noise, 0, 255).round().astype(np.uint8)
    Image.fromarray(noisy).save(folder / "noisy.png")
    scratches = np.zeros(photo.shape[:2], np.uint8)
    scratches[20:22, 10:80] = scratches[5:60, 40:42] = 255
    Image.fromarray(scratches).save(folder / "scratches.png")
    alpha = np.full(photo.shape[:2], 255, np.uint8)
    alpha[24:40, 30:50] = 0
    Image.fromarray(np.dstack([photo, alpha])).save(folder / "cutout.png")
    (folder / "big.aec").write_bytes(aecodec.compress(smooth_image(80, 120, seed=3)))
    shutil.copy(
        Path(__file__).parent / "data" / "golden-v2-hyperprior-sc-joint.aec", folder / "old.aec"
    )
    rng = np.random.default_rng(0)
    words = ["the", "codec", "a", "of", "image", "model", "and", "bits", "to", "learned"]
    (folder / "book.txt").write_text(" ".join(rng.choice(words, 400)) + "\n")
    tiny = Path(save_tiny("hyperprior-tiny", folder / "runs"))
    for suffix in (".safetensors", ".json"):
        tiny.with_suffix(suffix).rename(folder / "runs" / "mine" / f"model{suffix}")
    return folder


def fresh(fixtures: Path, tmp_path: Path) -> Path:
    work = tmp_path / "work"
    shutil.copytree(fixtures, work)
    (tmp_path / "shared").symlink_to(SHARED)
    return work


def run_line(line: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("AECODEC_MODELS", None)
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", line], cwd=cwd, env=env, capture_output=True,
        timeout=600,
    )  # fmt: skip


def runnable(line: str) -> str:
    """The line without its set-up steps (the line's other steps stay joined by &&)."""
    kept = [shlex.join(s) for s in steps(line) if not is_setup(s)]
    return line if len(kept) == len(steps(line)) else " && ".join(kept)


RUN_BLOCKS = [
    (code, line)
    for language, code, reason, line in blocks(README.read_text())
    if language == "sh" and reason is None
]


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/data beside the repository")
@pytest.mark.parametrize(
    "code, line", RUN_BLOCKS, ids=lambda v: f"line {v}" if isinstance(v, int) else ""
)
def test_every_shell_block_runs_as_written(code, line, fixtures, tmp_path):
    work = fresh(fixtures, tmp_path)
    for command in commands(code):
        command = runnable(command)
        if not command:
            continue  # only set-up and the test suite: .ci/run runs them
        done = run_line(command, work)
        assert done.returncode == 0, (
            f"README line {line}: `{command}` exited {done.returncode}:\n"
            f"{done.stderr.decode(errors='replace')[-3000:]}"
        )


@pytest.mark.slow
@pytest.mark.parametrize(
    "code",
    [code for language, code, reason, _ in blocks(README.read_text()) if language == "python"],
)
def test_every_python_block_runs(code, fixtures, tmp_path):
    work = fresh(fixtures, tmp_path)
    (work / "example.py").write_text(code)
    done = run_line(f"{shlex.quote(sys.executable)} example.py", work)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]


PARSE_HOOK = """
import argparse, runpy, sys
def parsed(self, *args, **kwargs):
    result = parse(self, *args, **kwargs)
    if self.prog == sys.argv[0].rsplit('/', 1)[-1]:
        raise SystemExit(0)  # the script's own parser accepted the arguments: stop here
    return result
parse = argparse.ArgumentParser.parse_args
argparse.ArgumentParser.parse_args = parsed
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "step",
    [s for line, _ in shell_lines(parse_only=True) for s in steps(line) if s[0] == "python"],
    ids=shlex.join,
)
def test_parse_only_scripts_accept_their_arguments(step, tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", PARSE_HOOK, *step[1:]], cwd=ROOT, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.slow
def test_torchrun_knows_the_options_the_readme_gives_it():
    options = {t for line, _ in shell_lines() for s in steps(line) if s[0] == "torchrun"
               for t in s[1 : s.index("-m")] if t.startswith("--")}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--help"], capture_output=True, text=True
    )
    assert options and all(option in done.stdout for option in options)

"""The top command line mounts the wings lazily: `aecodec --help` lists their commands from a
table, a wing is imported when one of its commands runs, and the light commands start without
torch. `aecodec models` lists every kind of model from the cards alone."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aecodec.cli import WINGS, Wing, app, wing_commands

ROOT = Path(__file__).parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden-v2-hyperprior-sc-joint.aec"


@pytest.mark.parametrize("wing", WINGS, ids=lambda w: w.module)
def test_the_wing_table_says_what_each_wing_registers(wing):
    commands = wing_commands(wing)
    assert set(commands) == set(wing.commands), f"update WINGS in aecodec/cli.py for {wing.module}"
    for name, command in commands.items():
        first_line = (command.help or "").strip().splitlines()[0]
        assert wing.commands[name] == first_line, f"the help of `aecodec {name}` changed"


def test_top_help_lists_every_command_under_its_heading(cli):
    text = cli("--help").stdout
    for heading in ["Image codec", *(w.panel for w in WINGS)]:
        assert heading in text
    for command in app.registered_commands:
        assert command.callback.__name__ in text
    for wing in WINGS:
        for name in wing.commands:
            assert f" {name} " in text


def test_a_wing_command_runs_through_the_top_command_line(cli):
    done = cli("text", "--help")
    assert done.returncode == 0 and "decompress" in done.stdout
    assert "mnist-conv" in cli("autoencoders").stdout
    done = cli("text", "info", "-", "-")
    assert done.returncode == 2 and done.stderr.endswith("(see 'aecodec text --help')\n")


def test_a_wing_that_cannot_load_says_so_in_one_line(cli, monkeypatch):
    broken = Wing("aecodec.no_such_wing", "Extras", {"render": "Render a picture."})
    monkeypatch.setattr("aecodec.cli.WINGS", [*WINGS, broken])
    assert "Render a picture." in cli("--help").stdout
    done = cli("render")
    assert done.returncode == 1 and done.stderr == (
        "error: the extras commands cannot load: No module named 'aecodec.no_such_wing'; "
        "install what it names\n"
    )


def test_models_lists_every_kind_from_the_cards_alone(cli, tiny_codec, monkeypatch):
    def no_weights(*args, **kwargs):
        raise AssertionError("a listing read weights")

    monkeypatch.setattr("aecodec.registry.read", no_weights)
    monkeypatch.setenv("AECODEC_MODELS", str(Path(tiny_codec).parent))
    listing = json.loads(cli("models", "--json").stdout)
    assert set(listing) == {"codec models", "autoencoders", "text models", "denoisers",
                            "repairers"}  # fmt: skip
    assert {"hyperprior-sc-joint", "hyperprior-tiny"} <= set(listing["codec models"])
    assert set(listing["autoencoders"]) >= {"mnist-conv", "mnist-dense", "mnist-vae"}
    assert "text-mlp-v1" in listing["text models"]
    text = cli("models").stdout
    assert "hyperprior-sc-joint (default):" in text and "quality 100.0: 1.587 bpp" in text
    assert "hyperprior-tiny: untrained test model" in text


def _torch_imported_by(*commands: list[str]) -> list[str]:
    """The commands, run one after the other in one fresh process, after which torch had
    been imported (so the first that imports it, and all after it)."""
    code = (
        "import json, sys\n"
        "from aecodec.cli import main\n"
        "for args in json.loads(sys.argv[1]):\n"
        "    sys.argv = ['aecodec', *args]\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit:\n"
        "        pass\n"
        "    print('torch' in sys.modules, ' '.join(args), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(commands)], capture_output=True, text=True,
        cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    report = [line.split(" ", 1) for line in done.stderr.splitlines()[-len(commands) :]]
    assert len(report) == len(commands), done.stderr
    return [command for imported, command in report if imported == "True"]


def test_light_commands_start_without_torch():
    light = [["--help"], ["--version"], ["info", str(GOLDEN)], ["compress", "--help"]]
    assert _torch_imported_by(*light) == []


def test_models_starts_without_torch():
    assert _torch_imported_by(["models"], ["text", "--help"]) == []

"""The package map of docs/design.md, checked: no module imports a module of a higher layer, and
the wings (the autoencoder family, text, restore) import the foundations, never the codec or
each other."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "aecodec"
# Lowest first; a module may import its own layer and those below it.
LAYERS = [
    {
        "errors",
        "allocator",
        "config",
        "files",
        "bitstream",
        "metadata",
        "image",
        "metrics",
        "registry",
        "options",
        "gains",
    },
    {"nn", "entropy"},
    {"latent"},
    {"models"},
    {"zoo", "codec", "decoder"},
    {"train", "eval"},
    {"family", "text", "restore"},
    {"cli", "web", "__init__", "__main__"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
WINGS = {"family", "text", "restore"}
CODEC = {"latent", "models", "zoo", "codec", "decoder", "train", "eval"}


def top(module: str) -> str:
    """aecodec.latent.groups -> latent; aecodec.codec -> codec; aecodec -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(path: Path) -> set[str]:
    """The aecodec modules a file imports (absolute imports: the house uses no others)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("aecodec")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aecodec"):
            if node.module == "aecodec":  # from aecodec import codec, bitstream
                found |= {f"aecodec.{a.name}" for a in node.names}
            else:
                found.add(node.module)
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_part_of_the_package_has_a_layer():
    parts = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in MODULES}
    assert parts <= set(RANK), f"add to LAYERS (and to design.md's map): {parts - set(RANK)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_upward_and_wings_stay_apart(path):
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    for module in imports(path):
        other = top(module)
        # `import aecodec` is the public API: the codec's layer
        rank = RANK["codec"] if other == "__init__" else RANK[other]
        assert rank <= RANK[own], f"{own} (layer {RANK[own]}) imports {module}"
        if own in WINGS:
            assert other not in CODEC | (WINGS - {own}), f"the {own} wing imports {module}"

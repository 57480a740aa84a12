"""Command-line options that every wing's commands share, defined once (typer's Annotated)."""

from pathlib import Path
from typing import Annotated

import typer

Force = Annotated[bool, typer.Option("--force", help="Overwrite existing output files.")]
Weights = Annotated[
    Path | None,
    typer.Option("--weights", help="A model's .safetensors file (its .json card beside it)."),
]

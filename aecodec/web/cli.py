"""`aecodec serve`: the local web page. Only typer and the standard library are imported here;
fastapi, uvicorn and torch load when the command runs, so `aecodec --help` stays quick."""

import ipaddress
import os
import socket
from typing import Annotated

import typer

from aecodec.options import Weights


def register(app: typer.Typer) -> None:
    """Add the `serve` command to the top-level command line."""
    app.command()(serve)


def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on; other than loopback, anyone can reach it.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on (0: any free port).")
    ] = 8000,
    max_upload: Annotated[
        float, typer.Option("--max-upload", help="Largest upload in megabytes.")
    ] = 64,
    max_pixels: Annotated[
        int, typer.Option("--max-pixels", help="Refuse larger images (pixels).")
    ] = 50_000_000,
    workers: Annotated[
        int, typer.Option(min=0, help="Pictures coded at once \\[default: 2, or 1 on one core].")
    ] = 0,
    queue: Annotated[
        int, typer.Option(min=1, help="Jobs running or waiting; beyond, the page is told to retry.")
    ] = 16,
    weights: Weights = None,
) -> None:
    """Serve a local web page to compare codecs side by side, compress and restore pictures."""
    try:
        import uvicorn

        from aecodec.web.app import create_app
        from aecodec.web.coding import Model
        from aecodec.web.server import Settings
    except ImportError as error:
        typer.echo(f"error: the web page needs {error.name}: pip install 'aecodec[web]'", err=True)
        raise typer.Exit(1) from None
    cores = os.cpu_count() or 1
    workers = workers or min(2, cores)
    if max_upload <= 0 or max_pixels <= 0 or not 1 <= workers <= queue:
        typer.echo(
            "error: need --max-upload, --max-pixels > 0 and 1 <= --workers <= --queue", err=True
        )
        raise typer.Exit(1)
    if weights is not None and not weights.is_file():
        typer.echo(f"error: {weights} does not exist", err=True)
        raise typer.Exit(1)
    listening = _listen(host, port)
    # Each worker gets its share of the cores: torch's threads on top of ours would each wait
    # on the others (a coded picture takes longer with two threads per worker on two cores).
    import torch

    torch.set_num_threads(max(1, cores // workers))
    address = _address(*listening.getsockname()[:2])
    settings = Settings(
        max_upload=int(max_upload * 1_000_000),
        max_pixels=max_pixels,
        workers=workers,
        queue=queue,
        model=Model(weights=str(weights) if weights else None),
    )
    if not _loopback(host):
        typer.echo(f"warning: listening on {host}: other machines can reach this page", err=True)
    typer.echo(f"aecodec serve: open {address} (Ctrl-C to stop)")
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning"))
    server.run(sockets=[listening])


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound and listening, or one error line (address in use, unknown host)."""
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listening = socket.socket(info[0], socket.SOCK_STREAM)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(info[4])
        listening.listen(128)
    except OSError as error:
        typer.echo(f"error: cannot listen on {host}:{port}: {error.strerror or error}", err=True)
        raise typer.Exit(1) from None
    return listening


def _address(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

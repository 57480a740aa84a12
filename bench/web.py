"""How long the web page takes to show a Kodak photo: a real `aecodec serve` process (shipped
model, default workers), each photo uploaded and both sides asked for at once, as the page does
(left aecodec quality 75, right JPEG quality 75). Prints, per photo, the time from the upload's
start to the first side's answer and to both; the first photo is sent as soon as the server
listens (the model may still be loading), the rest after.

    python bench/web.py ../shared/data/kodak --images 6
"""

import argparse
import concurrent.futures
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

SERVE = (
    "import typer; from aecodec.web.cli import register; app = typer.Typer(); "
    "app.callback()(lambda: None); register(app); app()"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--workers", type=int, default=0, help="serve --workers (0: its default)")
    args = parser.parse_args()
    photos = sorted(args.folder.glob("*.png"))[: args.images]
    command = [sys.executable, "-c", SERVE, "serve", "--port", "0", "--workers", str(args.workers)]
    started = time.perf_counter()
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()  # "aecodec serve: open http://127.0.0.1:PORT/ ..."
        address = line.split("open ")[1].split()[0]
        print(f"server listening after {time.perf_counter() - started:.2f} s: {address}")
        print(f"{'photo':<12} {'first side':>10} {'both':>8}  first")
        firsts, boths = [], []
        with httpx.Client(base_url=address, timeout=300) as api:
            for photo in photos:
                first, both, which = one(api, photo)
                firsts.append(first)
                boths.append(both)
                print(f"{photo.name:<12} {first:>9.2f}s {both:>7.2f}s  {which}")
        print(f"median (all photos): first side {statistics.median(firsts):.2f} s, "
              f"both {statistics.median(boths):.2f} s")  # fmt: skip
    finally:
        server.terminate()
        server.wait(10)


def one(api: httpx.Client, photo: Path) -> tuple[float, float, str]:
    start = time.perf_counter()
    image = api.post("/api/images", params={"name": photo.name}, content=photo.read_bytes())
    url = f"/api/images/{image.json()['id']}/compress"
    done: dict[str, float] = {}
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        sides = {
            pool.submit(api.post, url, json={"codec": codec, "setting": 75}): codec
            for codec in ("aec", "jpeg")
        }
        for future in concurrent.futures.as_completed(sides):
            future.result().raise_for_status()
            done[sides[future]] = time.perf_counter() - start
    which = min(done, key=done.get)
    return done[which], max(done.values()), which


if __name__ == "__main__":
    main()

"""Fetch the text model's training data: freely licensed English from Debian packages.

    python recipes/text_data.py ~/data/text --shakespeare ../shared/data/text/tinyshakespeare

downloads the packages below with `apt-get download` (run `apt-get update` once first), unpacks
them with `dpkg-deb -x`, turns each source into plain text and writes OUT/train.txt and
OUT/val.txt (the last 2 % of every source, held out) plus OUT/sources.tsv (bytes per source).
Nothing here may be committed to the repository. The Canterbury and Calgary corpora are the
evaluation files: never add them.
"""

import argparse
import gzip
import html.parser
import re
import subprocess
from pathlib import Path

# Package, licence (from its copyright file): all allow redistribution and derived works.
PACKAGES = {
    "bible-kjv": "public domain text (King James Version); the package's `bible` program prints it",
    "bible-kjv-text": "public domain (the King James Version's data file)",
    "dict-gcide": "GPL-3+ (GNU Collaborative International Dictionary of English)",
    "dict-devil": "public domain (Bierce, The Devil's Dictionary)",
    "jargon-text": "public domain (The Jargon File)",
    "fortunes": "BSD-4-clause and public domain quotations",
    "fortunes-min": "BSD-4-clause",
    "python3.11-doc": "PSF-2.0 (the reStructuredText sources of the Python docs)",
    "developers-reference": "MIT-style (Debian Developer's Reference)",
    "debian-reference-en": "GPL-2+ (Debian Reference)",
    "debian-handbook": "GPL-2+ or CC-BY-SA-3.0 (The Debian Administrator's Handbook)",
}
# The dictionary (40 MB) and the Python docs (11 MB) would outweigh the prose: a part of each.
GCIDE_BYTES = 8_000_000
PYTHON_DOC_BYTES = 5_000_000
# Sources written out with CRLF line ends: many texts have them (alice29.txt does), and a model
# that never saw a carriage return pays about 15 bits for each.
CRLF = ("devil", "fortunes", "debian-handbook", "tinyshakespeare", "bible-kjv")
VAL_FRACTION = 0.02


class _Text(html.parser.HTMLParser):
    """The visible text of an HTML page: scripts and styles dropped, blocks on their own lines."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        self._skip += tag in ("script", "style")
        if tag in ("p", "div", "br", "li", "h1", "h2", "h3", "tr", "pre"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style") and self._skip > 0

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(path: Path) -> str:
    parser = _Text()
    parser.feed(path.read_text(errors="replace"))
    text = "".join(parser.parts)
    return re.sub(r"\n\s*\n+", "\n\n", re.sub(r"[ \t]+", " ", text)).strip() + "\n"


def sources(root: Path) -> dict[str, str]:
    """Plain text per source, from the unpacked packages under root."""
    share = root / "usr/share"
    out = {}
    out["gcide"] = (
        gzip.open(share / "dictd/gcide.dict.dz").read()[:GCIDE_BYTES].decode("utf-8", "replace")
    )
    out["devil"] = gzip.open(share / "dictd/devil.dict.dz").read().decode("utf-8", "replace")
    out["jargon"] = gzip.open(share / "doc/jargon-text/jargon.txt.gz").read().decode("latin-1")
    fortunes = sorted(p for p in (share / "games/fortunes").iterdir() if p.suffix == "")
    out["fortunes"] = "".join(p.read_text(errors="replace") for p in fortunes if p.is_file())
    rst = sorted((share / "doc/python3.11/html/_sources").rglob("*.txt"))
    out["python-doc"] = "".join(p.read_text(errors="replace") for p in rst)[:PYTHON_DOC_BYTES]
    devref = sorted((share / "developers-reference/_sources").rglob("*.txt"))
    out["developers-reference"] = "".join(p.read_text(errors="replace") for p in devref)
    for name, folder in (
        ("debian-reference", "debian-reference"),
        ("debian-handbook", "doc/debian-handbook/html/en-US"),
    ):
        pages = sorted((share / folder).rglob("*.html"))
        out[name] = "".join(html_text(p) for p in pages)
    bible = root / "usr/bin/bible"
    verses = [str(bible), "-p", str(root / "usr/lib"), "-l80", "Gen1:1-Rev22:21"]
    out["bible-kjv"] = subprocess.run(verses, capture_output=True, check=True).stdout.decode()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="data folder, outside the repository")
    parser.add_argument("--shakespeare", type=Path, help="folder of tinyshakespeare's input.txt")
    args = parser.parse_args()
    debs, root = args.out / "debs", args.out / "root"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, check=True)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    texts = sources(root)
    if args.shakespeare:
        texts["tinyshakespeare"] = (args.shakespeare / "input.txt").read_text()
    train, val, rows = [], [], []
    for name, text in texts.items():
        if name in CRLF:
            text = text.replace("\r\n", "\n").replace("\n", "\r\n")
        data = text.encode("utf-8")
        cut = len(data) - int(len(data) * VAL_FRACTION)
        train.append(data[:cut])
        val.append(data[cut:])
        rows.append(f"{name}\t{len(data)}")
    (args.out / "train.txt").write_bytes(b"".join(train))
    (args.out / "val.txt").write_bytes(b"".join(val))
    (args.out / "sources.tsv").write_text("source\tbytes\n" + "\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()

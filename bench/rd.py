"""Rate-distortion benchmark of aecodec and classic codecs on a folder of images.

    python bench/rd.py ../shared/data/kodak --codecs jpeg,webp,avif,jxl,jp2 --out /tmp/bench \
        --reference ../shared/reference/compressai-kodak --html

Prints the BD-rate and timing tables (report.md) and writes CSV, JSON, plots into --out.
With --from-rows, redraws everything from an earlier rows.csv (concatenated CSVs work too)
instead of running the codecs.
"""

import argparse
import shlex
import sys
from pathlib import Path

# Run from a checkout without installing: the package is the folder above this one.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aecodec.allocator import reuse_freed_memory  # noqa: E402
from aecodec.eval import (  # noqa: E402
    BenchmarkError,
    benchmark,
    find_images,
    read_csv,
    unavailable_reason,
    write_reports,
)
from aecodec.eval.codecs import CLASSIC  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of PNG images (e.g. Kodak)")
    parser.add_argument(
        "--codecs",
        default=",".join(CLASSIC),
        help="comma-separated: jpeg, webp, jp2, avif, jxl, aec, aec:MODEL, aec@EFFORT "
        "(default: classic)",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for every output")
    parser.add_argument("--anchor", default="jpeg", help="codec the BD-rates refer to")
    parser.add_argument("--limit", type=int, help="only the first N images (sorted by name)")
    parser.add_argument("--html", action="store_true", help="also write index.html with crops")
    parser.add_argument("--reference", type=Path, help="folder of CompressAI JSONs to overlay")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--from-rows", type=Path, help="report an earlier rows.csv, run nothing")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    codecs = [c.strip() for c in args.codecs.split(",") if c.strip()]
    missing = [reason for c in codecs if (reason := unavailable_reason(c))]
    if missing and not args.from_rows:
        print("cannot run: " + "; ".join(missing), file=sys.stderr)
        return 2
    command = "python bench/rd.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    try:
        if args.from_rows:
            images = find_images(args.folder, args.limit) if args.html else None
            report = write_reports(
                read_csv(args.from_rows),
                args.out,
                anchor=args.anchor,
                reference=args.reference,
                html_images=images,
                command=command,
                dataset=args.folder.name,
            )
        else:
            reuse_freed_memory()  # time the codecs in the process the command line runs them in
            report = benchmark(
                args.folder,
                codecs,
                args.out,
                anchor=args.anchor,
                html=args.html,
                reference=args.reference,
                limit=args.limit,
                progress=not args.no_progress,
                command=command,
            )
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report.read_text())
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

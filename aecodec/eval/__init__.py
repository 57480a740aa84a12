"""Rate-distortion benchmarks: aecodec against classic codecs, with Bjøntegaard deltas.

    from aecodec.eval import benchmark
    report = benchmark("../shared/data/kodak", ["jpeg", "webp", "avif"], "out/")

writes into `out/`: `rows.csv` (one row per image x codec x setting), one CompressAI-schema
`<codec>.json` per codec, `rd-psnr.png` and `rd-ms-ssim.png`, and `report.md` with the BD-rate
table against the anchor and the timings (plus `index.html` and `crops/` with `html=True`).
`write_reports(read_csv(...), ...)` redraws all but the CSV from saved rows, e.g. after
concatenating the rows of a new codec to those of an earlier run.
"""

from pathlib import Path

from aecodec.eval import report
from aecodec.eval.bdrate import bd_psnr, bd_rate
from aecodec.eval.codecs import CLASSIC, BenchmarkError, Codec, get_codec, unavailable_reason
from aecodec.eval.report import read_csv, write_csv
from aecodec.eval.run import aggregate, find_images, run_benchmark
from aecodec.metrics import ms_ssim, psnr

__all__ = [
    "CLASSIC",
    "BenchmarkError",
    "Codec",
    "aggregate",
    "bd_psnr",
    "bd_rate",
    "benchmark",
    "find_images",
    "get_codec",
    "ms_ssim",
    "psnr",
    "read_csv",
    "run_benchmark",
    "unavailable_reason",
    "write_csv",
    "write_reports",
]

# Published curves worth drawing beside ours when a reference folder is given (file stems of
# CompressAI's results/image/kodak); whichever of them the folder holds are drawn.
DEFAULT_REFERENCES = [
    "vtm",
    "bpg_444_x265_ycbcr",
    "av1",
    "compressai-bmshj2018-hyperprior_mse_cpu",
    "compressai-mbt2018-mean_mse_cpu",
    "compressai-cheng2020-anchor_mse_cpu",
]


def benchmark(
    folder: Path,
    codecs: list[str],
    out_dir: Path,
    anchor: str = "jpeg",
    html: bool = False,
    reference: Path | None = None,
    limit: int | None = None,
    progress: bool = True,
    command: str | None = None,
) -> Path:
    """Run `codecs` on the images in `folder`, write every output into `out_dir`; returns report.md.

    The anchor codec is run too if it is not among `codecs`. `command` is the command line to
    print at the top of the report, so that its numbers can be reproduced.
    """
    codecs = list(dict.fromkeys([anchor, *codecs]))
    images = find_images(folder, limit)
    rows = run_benchmark(images, codecs, progress=progress)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    write_csv(rows, Path(out_dir) / "rows.csv")
    html_images = images if html else None
    return write_reports(rows, out_dir, anchor, reference, html_images, command, Path(folder).name)


def write_reports(
    rows: list[dict],
    out_dir: Path,
    anchor: str = "jpeg",
    reference: Path | None = None,
    html_images: list[Path] | None = None,
    command: str | None = None,
    dataset: str = "",
) -> Path:
    """JSON per codec, plots, report.md (and the HTML page with crops of `html_images`) from
    benchmark rows, fresh or read back with `read_csv`; returns the report's path."""
    from aecodec.eval.plots import plot_rd  # matplotlib is slow to import: only when drawing

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = aggregate(rows)
    if anchor not in results:
        raise BenchmarkError(f"the anchor {anchor!r} is not among the measured codecs")
    descriptions = {name: _description(name) for name in results}
    for name, result in results.items():
        report.write_json(name, descriptions[name], result, out_dir / f"{_file_stem(name)}.json")
    curves = {name: report.curve(result) for name, result in results.items()}
    references = report.load_references(reference, DEFAULT_REFERENCES) if reference else None
    count = len({r["image"] for r in rows})
    title = f"{dataset}, {count} image{'s' if count != 1 else ''}".lstrip(", ")
    plots = plot_rd(curves, out_dir, references, title=title)
    text = report.markdown_report(
        rows, curves, descriptions, anchor, references, [p.name for p in plots], command
    )
    path = out_dir / "report.md"
    path.write_text(text)
    if html_images:
        from aecodec.eval.html import write_html

        write_html(out_dir, html_images, rows, plots, title=f"Rate-distortion benchmark: {title}")
    return path


def _description(codec: str) -> str:
    reason = unavailable_reason(codec)
    return get_codec(codec).description if reason is None else f"(not available here: {reason})"


def _file_stem(codec: str) -> str:
    """A file name for a codec's JSON: "aec:/some/model@6" -> "aec-model-6"."""
    codec, _, effort = codec.partition("@")
    base, _, model = codec.partition(":")
    stem = f"{base}-{Path(model).name}" if model else base
    return f"{stem}-{effort}" if effort else stem

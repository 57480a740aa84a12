"""Benchmark results on disk: per-image CSV, CompressAI-style JSON per codec, a Markdown report.

The JSON files follow CompressAI's results schema (`{"name", "description", "results": {"bpp",
"psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time"}}`, one list entry per setting, each
the mean over images), so its plotting tools and ours read each other's files. A metric that is
undefined (MS-SSIM on images under 161 pixels) is left out of the file rather than written as NaN,
which JSON does not have.
"""

import csv
import json
import math
import warnings
from datetime import date
from pathlib import Path

from aecodec.eval.bdrate import BDWarning, bd_psnr, bd_rate
from aecodec.metrics import to_db

CSV_FIELDS = ("image", "codec", "setting", "width", "height", "bytes", "bpp", "psnr", "ms_ssim")
CSV_FIELDS += ("encode_s", "decode_s")


def write_csv(rows: list[dict], path: Path) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_csv(path: Path) -> list[dict]:
    """Rows written by `write_csv`, with their numbers as numbers again."""
    integers, text = {"width", "height", "bytes"}, {"image", "codec"}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key, value in row.items():
            if key in integers:
                row[key] = int(value)
            elif key == "setting":  # back to the int the encoder was given, where it was one
                row[key] = int(value) if float(value).is_integer() else float(value)
            elif key not in text:
                row[key] = float(value)
    return rows


def compressai_json(name: str, description: str, results: dict[str, list[float]]) -> dict:
    finite = {k: v for k, v in results.items() if all(math.isfinite(x) for x in v)}
    return {"name": name, "description": description, "results": finite}


def write_json(name: str, description: str, results: dict, path: Path) -> Path:
    path.write_text(json.dumps(compressai_json(name, description, results), indent=2) + "\n")
    return path


def curve(results: dict[str, list[float]]) -> dict[str, list[float]]:
    """The metrics of a result that are defined everywhere, plus MS-SSIM in dB when present."""
    finite = {k: list(v) for k, v in results.items() if all(math.isfinite(x) for x in v)}
    if "ms-ssim-rgb" in finite and "ms-ssim-db-rgb" not in finite:
        finite["ms-ssim-db-rgb"] = [to_db(x) for x in finite["ms-ssim-rgb"]]
    return finite


def load_references(folder: Path, names: list[str] | None = None) -> dict[str, dict]:
    """Curves of the CompressAI JSON files in `folder` (not its subfolders), by file stem.

    `names` picks files by stem; missing ones are skipped, so one list serves several folders.
    """
    paths = sorted(Path(folder).glob("*.json"))
    if names is not None:
        paths = [p for name in names for p in paths if p.stem == name]
    return {p.stem: curve(json.loads(p.read_text())["results"]) for p in paths}


def bd_table(curves: dict[str, dict], anchor: str) -> tuple[list[dict], list[str]]:
    """BD-rate (PSNR and MS-SSIM) and BD-PSNR of every curve against `anchor`'s.

    The curves are the mean-over-images curves (CompressAI's habit); a nan entry comes with a
    note saying why it is undefined.
    """
    table, notes = [], []
    base = curves[anchor]
    for name, curve in curves.items():
        row = {"codec": name}
        for column, metric, fn in (
            ("bd_rate_psnr", "psnr-rgb", bd_rate),
            ("bd_psnr", "psnr-rgb", bd_psnr),
            ("bd_rate_ms_ssim", "ms-ssim-db-rgb", bd_rate),
        ):
            if metric not in curve or metric not in base:
                row[column] = math.nan
                continue
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", BDWarning)
                row[column] = fn(base["bpp"], base[metric], curve["bpp"], curve[metric])
            notes += [f"{name}, {column}: {w.message}" for w in caught]
        table.append(row)
    return table, notes


def timing_table(rows: list[dict]) -> list[dict]:
    """Per codec: mean seconds per image (over all images and settings) and megapixels/s."""
    table = []
    for codec in dict.fromkeys(r["codec"] for r in rows):
        mine = [r for r in rows if r["codec"] == codec]
        megapixels = sum(r["width"] * r["height"] for r in mine) / 1e6
        encode, decode = sum(r["encode_s"] for r in mine), sum(r["decode_s"] for r in mine)
        table.append(
            {
                "codec": codec,
                "encode_s": encode / len(mine),
                "decode_s": decode / len(mine),
                "encode_mp_s": megapixels / encode,
                "decode_mp_s": megapixels / decode,
            }
        )
    return table


def _fmt(x: float, spec: str, unit: str) -> str:
    return "n/a" if not math.isfinite(x) else format(x, spec) + unit


def markdown_report(
    rows: list[dict],
    curves: dict[str, dict],
    descriptions: dict[str, str],
    anchor: str,
    references: dict[str, dict] | None = None,
    plots: list[str] = (),
    command: str | None = None,
) -> str:
    """The report as Markdown: settings, BD table against the anchor, timings, plots."""
    images = sorted({r["image"] for r in rows})
    lines = [f"# Rate-distortion benchmark, {date.today().isoformat()}", ""]
    if command:
        lines += ["```", command, "```", ""]
    count = f"{len(images)} image" + ("s" if len(images) != 1 else "")
    lines += [f"{count}; anchor: **{anchor}**. Codecs and exact settings:", ""]
    lines += [f"- `{name}`: {descriptions[name]}" for name in curves] + [""]
    table, notes = bd_table(curves, anchor)
    lines += [
        "BD-rate: rate change at equal quality (negative is better); BD-PSNR: PSNR change at equal",
        "rate. Bjøntegaard deltas with piecewise cubic (PCHIP) interpolation in log-rate, over the",
        "range both curves cover, on the curves of mean bpp and mean quality per setting. MS-SSIM",
        "is taken in dB, -10 log10(1 - MS-SSIM).",
        "",
        "| codec | BD-rate (PSNR) | BD-PSNR | BD-rate (MS-SSIM) | bpp range | PSNR range (dB) |",
        "|---|---:|---:|---:|---|---|",
    ]
    for row in table:
        bpp, quality = curves[row["codec"]]["bpp"], curves[row["codec"]]["psnr-rgb"]
        lines.append(
            f"| {row['codec']} | {_fmt(row['bd_rate_psnr'], '+.1f', ' %')} "
            f"| {_fmt(row['bd_psnr'], '+.2f', ' dB')} "
            f"| {_fmt(row['bd_rate_ms_ssim'], '+.1f', ' %')} "
            f"| {min(bpp):.3f} - {max(bpp):.3f} | {min(quality):.2f} - {max(quality):.2f} |"
        )
    lines += [""] + [f"- {note}" for note in notes] + ([""] if notes else [])
    if references:
        lines += _reference_section(curves[anchor], references, anchor)
    lines += [
        "Time per image, mean over all images and settings (one thread where the codec allows;",
        "includes Pillow's file wrapping); megapixels per second from the totals.",
        "",
        "| codec | encode (s) | decode (s) | encode (MP/s) | decode (MP/s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for t in timing_table(rows):
        lines.append(
            f"| {t['codec']} | {t['encode_s']:.3f} | {t['decode_s']:.3f} "
            f"| {t['encode_mp_s']:.2f} | {t['decode_mp_s']:.2f} |"
        )
    lines += [""] + [f"![{Path(p).stem}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def _reference_section(anchor_curve: dict, references: dict[str, dict], anchor: str) -> list[str]:
    """Published curves against our measured anchor: meaningful only on the same images."""
    table, notes = bd_table({"@anchor": anchor_curve} | references, "@anchor")
    lines = [
        f"Published curves (reference folder) against the {anchor} measured here; valid only if",
        "the reference was measured on the same images.",
        "",
        "| published | BD-rate (PSNR) | BD-PSNR |",
        "|---|---:|---:|",
    ]
    for row in table[1:]:
        lines.append(
            f"| {row['codec']} | {_fmt(row['bd_rate_psnr'], '+.1f', ' %')} "
            f"| {_fmt(row['bd_psnr'], '+.2f', ' dB')} |"
        )
    return lines + [""] + [f"- {n}" for n in notes if "bd_rate_ms_ssim" not in n] + [""]

"""An HTML page of the RD plots and side-by-side crops at a similar rate.

For a few images, each codec is re-run at the setting whose rate on that image is nearest a target
bpp, and the same detailed region of the original and of every reconstruction is saved as PNG. The
crop is the tile with the most gradient energy, where coding artefacts show first.
"""

import html
from pathlib import Path

import numpy as np
from PIL import Image

from aecodec.eval.codecs import get_codec
from aecodec.eval.run import load_rgb

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
figure {{ display: inline-block; margin: 0.3em; text-align: center; font-size: 0.8em; }}
.crop img {{ width: {zoom}px; image-rendering: pixelated; }}
</style></head><body>
<h1>{title}</h1>
{plots}
<h2>Crops near {target} bpp (shown at 2x, nearest-neighbour)</h2>
{crops}
</body></html>
"""


def detailed_box(image: Image.Image, size: int) -> tuple[int, int, int, int]:
    """The size x size tile (on a half-tile grid) with the most gradient energy."""
    gray = np.asarray(image.convert("L"), dtype=np.float64)
    energy = np.zeros_like(gray)
    energy[:, 1:] += np.abs(np.diff(gray, axis=1))
    energy[1:, :] += np.abs(np.diff(gray, axis=0))
    size = min(size, *gray.shape)
    step = max(size // 2, 1)
    boxes = [
        (left, top, left + size, top + size)
        for top in range(0, gray.shape[0] - size + 1, step)
        for left in range(0, gray.shape[1] - size + 1, step)
    ]
    return max(boxes, key=lambda b: energy[b[1] : b[3], b[0] : b[2]].sum())


def write_html(
    out_dir: Path,
    images: list[Path],
    rows: list[dict],
    plots: list[Path],
    target_bpp: float = 0.5,
    n_images: int = 3,
    crop: int = 192,
    title: str = "Rate-distortion benchmark",
) -> Path:
    """Write `index.html` and `crops/*.png` into `out_dir`; returns the page's path."""
    out_dir = Path(out_dir)
    (out_dir / "crops").mkdir(parents=True, exist_ok=True)
    sections = []
    for path in images[:n_images]:
        image = load_rgb(path)
        box = detailed_box(image, crop)
        figures = [_save_crop(image.crop(box), out_dir, f"{path.stem}_original.png", "original")]
        for codec_name in dict.fromkeys(r["codec"] for r in rows):
            mine = [r for r in rows if r["codec"] == codec_name and r["image"] == path.name]
            if not mine:
                continue
            best = min(mine, key=lambda r: abs(r["bpp"] - target_bpp))
            codec = get_codec(codec_name)
            decoded = codec.decode(codec.encode(image, best["setting"])).convert("RGB")
            caption = (
                f"{codec_name} {best['setting']}: {best['bpp']:.3f} bpp, {best['psnr']:.2f} dB"
            )
            name = f"{path.stem}_{codec_name.replace(':', '-')}.png"
            figures.append(_save_crop(decoded.crop(box), out_dir, name, caption))
        sections.append(f"<h3>{html.escape(path.name)} {box}</h3>\n" + "\n".join(figures))
    plot_tags = "\n".join(f'<img src="{p.name}" alt="{p.stem}">' for p in plots)
    page = PAGE.format(
        title=html.escape(title),
        zoom=2 * crop,
        plots=plot_tags,
        target=target_bpp,
        crops="\n".join(sections),
    )
    index = out_dir / "index.html"
    index.write_text(page)
    return index


def _save_crop(image: Image.Image, out_dir: Path, name: str, caption: str) -> str:
    image.save(out_dir / "crops" / name)
    return (
        f'<figure class="crop"><img src="crops/{name}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )

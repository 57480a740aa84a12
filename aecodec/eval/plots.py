"""Rate-distortion figures: PSNR and MS-SSIM (dB) against bits per pixel.

Measured curves are solid with markers; published reference curves are thin dashed lines, so the
two are never confused. The axes are fitted to the measured curves, not the references.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402

PANELS = (
    ("psnr-rgb", "PSNR (RGB, dB)", "rd-psnr.png"),
    ("ms-ssim-db-rgb", "MS-SSIM (RGB, dB)", "rd-ms-ssim.png"),
)


def plot_rd(
    curves: dict[str, dict],
    out_dir: Path,
    references: dict[str, dict] | None = None,
    title: str = "",
) -> list[Path]:
    """One PNG per metric that some measured curve has; returns their paths."""
    paths = []
    for metric, label, filename in PANELS:
        measured = {k: c for k, c in curves.items() if metric in c}
        if not measured:
            continue
        fig, ax = plt.subplots(figsize=(7, 5), dpi=120)
        # Separate palettes, so a reference never shares a measured curve's colour.
        shades = plt.get_cmap("Dark2").colors
        for i, (name, c) in enumerate((references or {}).items()):
            if metric in c:
                style = dict(ls="--", lw=1, alpha=0.8, color=shades[i % len(shades)])
                ax.plot(c["bpp"], c[metric], **style, label=f"{name} (published)")
        colours = plt.get_cmap("tab10").colors
        for i, (name, c) in enumerate(measured.items()):
            style = dict(marker="o", ms=3, lw=1.8, color=colours[i % len(colours)])
            ax.plot(c["bpp"], c[metric], **style, label=name)
        bpp = [x for c in measured.values() for x in c["bpp"]]
        quality = [y for c in measured.values() for y in c[metric]]
        ax.set_xlim(0, min(max(bpp), 3.0) * 1.03)
        ax.set_ylim(min(quality) - 1, max(quality) + 1)
        ax.set(xlabel="bits per pixel", ylabel=label, title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        path = Path(out_dir) / filename
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths

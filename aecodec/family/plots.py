"""Pictures of the autoencoder family: image grids (PIL) and 2-D latent scatter plots."""

import io

import numpy as np
from PIL import Image

from aecodec.errors import ShapeMismatch


def image_grid(rows: list[np.ndarray], scale: int = 2, gap: int = 2) -> Image.Image:
    """Rows of examples (N, C, H, W) as one picture, a `gap`-pixel white line between tiles.

    Grey levels are clipped to 0..1 when the data lie there, stretched to it otherwise; 3- and
    4-channel examples are shown in colour (alpha dropped), others by their first channel."""
    rows = [_as_tiles(r) for r in rows]
    lo, hi = min(float(r.min()) for r in rows), max(float(r.max()) for r in rows)
    if lo < 0 or hi > 1:
        rows = [(r - lo) / max(hi - lo, 1e-12) for r in rows]
    n = max(len(r) for r in rows)
    h, w, c = rows[0].shape[1:]
    canvas = np.ones(((h + gap) * len(rows) - gap, (w + gap) * n - gap, c), np.float32)
    for i, row in enumerate(rows):
        for j, tile in enumerate(row):
            canvas[i * (h + gap) : i * (h + gap) + h, j * (w + gap) : j * (w + gap) + w] = tile
    pixels = (np.clip(canvas, 0, 1) * 255 + 0.5).astype(np.uint8)
    image = Image.fromarray(pixels[..., 0] if c == 1 else pixels)
    return image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)


def _as_tiles(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) or (N, D) -> (N, H, W, 1 or 3); flat examples become 1-pixel-high strips."""
    x = np.asarray(x, np.float32)
    if x.ndim == 2:
        x = x[:, None, None, :]
    if x.ndim != 4:
        raise ShapeMismatch(f"cannot draw examples of shape {x.shape[1:]}")
    x = x[:, :3] if x.shape[1] in (3, 4) else x[:, :1]
    return x.transpose(0, 2, 3, 1)


def to_2d(z: np.ndarray, project: str = "pca") -> tuple[np.ndarray, str]:
    """Codes as 2-D points and a phrase saying how: as they are, PCA, or the first two dims."""
    d = z.shape[1]
    if d == 1:
        return np.column_stack([z[:, 0], np.zeros(len(z))]), "the 1-D code (y = 0)"
    if d == 2:
        return z, "the 2-D code itself"
    if project == "first":
        return z[:, :2], f"the first 2 of {d} code dimensions"
    if project != "pca":
        raise ValueError(f"unknown projection '{project}' (known: pca, first)")
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=0).fit(z)
    share = pca.explained_variance_ratio_.sum()
    return pca.transform(z), f"PCA of the {d}-D codes ({share:.0%} of their variance)"


def scatter_png(points: np.ndarray, labels: np.ndarray | None, title: str) -> bytes:
    """A scatter plot of 2-D points, coloured by label when there are labels, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.5), dpi=100)
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.6)
    else:
        names, codes = np.unique(labels, return_inverse=True)
        cmap = plt.get_cmap("tab10" if len(names) <= 10 else "tab20")
        for i, name in enumerate(names):
            pts = points[codes == i]
            ax.scatter(pts[:, 0], pts[:, 1], s=3, alpha=0.7, color=cmap(i % cmap.N), label=name)
        if len(names) <= 20:
            ax.legend(markerscale=4, fontsize=7, loc="best", frameon=False)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()

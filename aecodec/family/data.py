"""Examples for the autoencoder family, from wherever they are: one `load_data(source)`.

Sources: a folder of images (labels from sub-folder names when there are several), a .npy or
.npz array, a CSV file (a column named `label` becomes the labels), an IDX file as MNIST ships
it (gzip or not; labels from the sibling `*labels-idx1*` file), a folder holding MNIST's IDX
files, `digits` (scikit-learn's bundled 8x8 digits) and `mnist-heldout` (the last 1,000 of
MNIST's 10,000 test digits, the split the shipped models never saw, read from the folder named by
$AECODEC_MNIST, by default ../shared/data/mnist; the digits themselves are not shipped).
Examples come back as float32, images as (N, C, H, W).

Scaling: uint8 data, and numbers that are all whole and within 0..255 with some above 1, are
divided by 255 (16-bit images by 65535, sklearn's digits by 16); other numbers stay as they are.
"""

import csv
import gzip
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aecodec.errors import DataError, ShapeMismatch
from aecodec.image import find_images

MNIST_TRAIN = 9000  # only MNIST's 10,000 test digits are at hand: the first 9,000 train
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass
class Dataset:
    x: np.ndarray  # float32, (N, C, H, W) for images, (N, D) otherwise
    labels: np.ndarray | None
    source: str

    def __len__(self) -> int:
        return len(self.x)

    def split(self, n_train: int) -> tuple["Dataset", "Dataset"]:
        """The first n_train examples and the rest, in file order."""
        a, b = slice(0, n_train), slice(n_train, None)
        labels = (None, None) if self.labels is None else (self.labels[a], self.labels[b])
        return Dataset(self.x[a], labels[0], self.source), Dataset(
            self.x[b], labels[1], self.source
        )


def load_data(source: str | Path) -> Dataset:
    """Read examples from a file, a folder, or one of the named sets (see the module docstring)."""
    if str(source) == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        return Dataset((digits.images / 16).astype(np.float32)[:, None], digits.target, "digits")
    if str(source) == "mnist-heldout":
        return _mnist_heldout()
    path = Path(source)
    if path.is_dir():
        idx = sorted(path.glob("*images-idx3-ubyte*"))
        return load_idx(idx[0]) if idx else load_image_folder(path)
    if not path.is_file():
        raise DataError(f"no such data file or folder: {path}")
    name = path.name.lower()
    try:
        if name.endswith(".npy"):
            return Dataset(_examples(np.load(path, allow_pickle=False), path), None, str(path))
        if name.endswith(".npz"):
            return _load_npz(path)
        if name.endswith(".csv"):
            return _load_csv(path)
        if "idx" in name:
            return load_idx(path)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"cannot read {path}: {error}") from None
    raise DataError(f"{path}: unknown data format (use .npy, .npz, .csv, IDX or an image folder)")


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (LeCun's MNIST format), gzip-compressed or not, as an array."""
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _IDX_TYPES:
        raise DataError(f"{path} is not an IDX file")
    ndim, dtype = data[3], np.dtype(_IDX_TYPES[data[2]])
    dims = np.frombuffer(data, ">u4", ndim, 4).astype(int)
    body = data[4 + 4 * ndim :]
    if len(body) != math.prod(dims) * dtype.itemsize:
        raise DataError(f"{path} is truncated or has a wrong header")
    return np.frombuffer(body, dtype).reshape(dims)


def _mnist_heldout(count: int = 1000) -> Dataset:
    folder = Path(os.environ.get("AECODEC_MNIST", "../shared/data/mnist"))
    if not folder.is_dir():
        raise DataError(
            f"mnist-heldout needs MNIST's IDX files: no folder {folder}; set AECODEC_MNIST "
            "to the folder holding t10k-images-idx3-ubyte.gz, or pass data explicitly"
        )
    digits = load_data(folder)
    labels = None if digits.labels is None else digits.labels[-count:]
    return Dataset(digits.x[-count:], labels, "mnist-heldout")


def load_idx(path: Path) -> Dataset:
    """IDX images, with the labels of the sibling labels file when there is one."""
    path = Path(path)
    try:
        x = _examples(read_idx(path), path)
    except (OSError, EOFError) as error:
        raise DataError(f"cannot read {path}: {error}") from None
    sibling = path.with_name(path.name.replace("images-idx3", "labels-idx1"))
    labels = read_idx(sibling) if sibling != path and sibling.is_file() else None
    if labels is not None and len(labels) != len(x):
        raise DataError(f"{sibling} has {len(labels)} labels for {len(x)} images")
    return Dataset(x, labels, str(path))


def load_image_folder(folder: Path) -> Dataset:
    """Every image under the folder, all of one size; labels are sub-folder names if several."""
    from PIL import Image

    paths = find_images(folder)
    if not paths:
        raise DataError(f"no images (PNG, JPEG, WebP, PPM, BMP, TIFF) in {folder}")
    images = []
    for p in paths:
        try:
            with Image.open(p) as image:
                images.append(image.copy())
        except OSError as error:
            raise DataError(f"cannot read {p}: {error}") from None
    modes = {im.mode for im in images}
    mode = "L" if modes <= {"L", "1"} else "RGBA" if modes <= {"RGBA", "LA"} else "RGB"
    mode = "I;16" if modes <= {"I;16", "I"} else mode
    sizes = {im.size for im in images}
    if len(sizes) > 1:
        raise ShapeMismatch(f"images in {folder} differ in size ({len(sizes)} sizes); resize them")
    scale = 65535.0 if mode == "I;16" else 255.0
    arrays = [np.asarray(im if im.mode == mode else im.convert(mode), np.float32) for im in images]
    x = np.stack(arrays) / scale
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    parents = [p.parent.relative_to(folder).as_posix() for p in paths]
    labels = np.array(parents) if len(set(parents)) > 1 else None
    return Dataset(np.ascontiguousarray(x), labels, str(folder))


def _load_npz(path: Path) -> Dataset:
    with np.load(path, allow_pickle=False) as arrays:
        keys = list(arrays.files)
        if not keys:
            raise DataError(f"{path} holds no arrays")
        key = next((k for k in ("x", "X", "images", "data") if k in keys), keys[0])
        label_key = next((k for k in ("y", "labels", "label", "target") if k in keys), None)
        labels = arrays[label_key] if label_key else None
        return Dataset(_examples(arrays[key], path), labels, str(path))


def _load_csv(path: Path) -> Dataset:
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r]
    if not rows:
        raise DataError(f"{path} is empty")
    header = None
    try:
        [float(v) for v in rows[0]]
    except ValueError:
        header, rows = [h.strip().lower() for h in rows[0]], rows[1:]
    try:
        table = np.array(rows, dtype=np.float64)
    except ValueError:
        raise DataError(f"{path}: every value after the header must be a number") from None
    labels = None
    if header and "label" in header:
        col = header.index("label")
        labels, table = table[:, col].astype(np.int64), np.delete(table, col, axis=1)
    return Dataset(_examples(table, path), labels, str(path))


def _examples(a: np.ndarray, path: Path) -> np.ndarray:
    """Scale to float32 and put images channels-first: (N, H, W) and (N, H, W, C<=4) too."""
    if a.ndim < 2 or len(a) == 0 or not np.issubdtype(a.dtype, np.number):
        raise ShapeMismatch(f"{path}: expected a numeric array of examples, got shape {a.shape}")
    whole = a.dtype == np.uint8 or (
        np.all(np.mod(a, 1) == 0) and a.min() >= 0 and 1 < a.max() <= 255
    )  # fmt: skip
    x = a.astype(np.float32) / (255.0 if whole else 1.0)
    if not np.all(np.isfinite(x)):
        raise DataError(f"{path} contains NaN or infinite values")
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] <= 4 < x.shape[1]:
        x = x.transpose(0, 3, 1, 2)
    elif x.ndim > 4:
        raise ShapeMismatch(f"{path}: expected examples of at most 3 dimensions, got {a.shape}")
    return np.ascontiguousarray(x)


def as_images(x: np.ndarray) -> np.ndarray:
    """Examples as (N, C, H, W): flat examples of a square number of values become 1xSxS."""
    if x.ndim == 4:
        return x
    side = math.isqrt(x.shape[1]) if x.ndim == 2 else 0
    if x.ndim == 2 and side * side == x.shape[1]:
        return x.reshape(len(x), 1, side, side)
    raise ShapeMismatch(f"examples of shape {x.shape[1:]} are not images (C, H, W) or square")


def load_image_as(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """One image file resized and converted to a model's (C, H, W) input, as (1, C, H, W)."""
    from PIL import Image

    if len(shape) != 3 or shape[0] not in (1, 3, 4):
        raise ShapeMismatch(f"the model takes examples of shape {shape}, not images")
    try:
        with Image.open(path) as image:
            image = image.convert({1: "L", 3: "RGB", 4: "RGBA"}[shape[0]])
            image = image.resize((shape[2], shape[1]), Image.Resampling.LANCZOS)
    except OSError as error:
        raise DataError(f"cannot read {path} as an image: {error}") from None
    x = np.asarray(image, np.float32) / 255
    return (x[None] if x.ndim == 2 else x.transpose(2, 0, 1))[None]

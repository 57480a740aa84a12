"""Every data source of the family reads tiny files written here, and bad files fail by name."""

import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from aecodec.errors import DataError, ShapeMismatch
from aecodec.family.data import as_images, load_data, load_image_as, read_idx

DIGITS = (np.arange(3 * 4 * 5) % 256).astype(np.uint8).reshape(3, 4, 5)


def write_idx(path, array: np.ndarray, compress: bool = True) -> None:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">f4"): 0x0D}
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    (gzip.open if compress else open)(path, "wb").write(header + array.tobytes())


def test_idx_gzip_images_come_with_their_sibling_labels(tmp_path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", DIGITS)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([7, 2, 1], np.uint8))
    for source in (tmp_path / "t10k-images-idx3-ubyte.gz", tmp_path):  # the file or its folder
        ds = load_data(source)
        assert ds.x.shape == (3, 1, 4, 5) and ds.x.dtype == np.float32
        np.testing.assert_allclose(ds.x[:, 0], DIGITS / 255, rtol=1e-6)
        assert ds.labels.tolist() == [7, 2, 1]


def test_uncompressed_float_idx_reads_as_is(tmp_path):
    values = np.linspace(-1, 1, 12, dtype=">f4").reshape(2, 6)
    write_idx(tmp_path / "x-idx2-float", values, compress=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "x-idx2-float"), values)


def test_truncated_idx_is_a_data_error(tmp_path):
    write_idx(tmp_path / "bad-idx3-ubyte", DIGITS, compress=False)
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(DataError, match="truncated"):
        load_data(path)


def test_npy_uint8_is_scaled_and_gains_a_channel(tmp_path):
    np.save(tmp_path / "x.npy", DIGITS)
    ds = load_data(tmp_path / "x.npy")
    assert ds.x.shape == (3, 1, 4, 5) and ds.x.max() == pytest.approx(59 / 255)
    assert ds.labels is None


def test_npy_floats_stay_as_they_are(tmp_path):
    x = np.array([[-1.5, 2.0], [0.25, 3.5]])
    np.save(tmp_path / "x.npy", x)
    np.testing.assert_array_equal(load_data(tmp_path / "x.npy").x, x.astype(np.float32))


def test_npz_reads_x_and_y_channels_last_images_become_channels_first(tmp_path):
    x = np.zeros((2, 6, 6, 3), np.uint8)
    x[..., 2] = 255
    np.savez_compressed(tmp_path / "d.npz", x=x, y=np.array([0, 1]))
    ds = load_data(tmp_path / "d.npz")
    assert ds.x.shape == (2, 3, 6, 6) and ds.x[:, 2].min() == 1.0 and ds.x[:, :2].max() == 0.0
    assert ds.labels.tolist() == [0, 1]


def test_csv_with_a_label_column_and_a_header(tmp_path):
    (tmp_path / "d.csv").write_text("label,a,b,c,d\n3,0,255,0,255\n5,255,0,255,0\n")
    ds = load_data(tmp_path / "d.csv")
    assert ds.x.tolist() == [[0, 1, 0, 1], [1, 0, 1, 0]]
    assert ds.labels.tolist() == [3, 5]
    assert as_images(ds.x).shape == (2, 1, 2, 2)


def test_csv_without_header(tmp_path):
    (tmp_path / "d.csv").write_text("0.5,0.25\n1.0,0.0\n")
    ds = load_data(tmp_path / "d.csv")
    assert ds.x.tolist() == [[0.5, 0.25], [1.0, 0.0]] and ds.labels is None


def test_csv_with_words_in_the_body_is_a_data_error(tmp_path):
    (tmp_path / "d.csv").write_text("a,b\n1,2\nthree,4\n")
    with pytest.raises(DataError, match="must be a number"):
        load_data(tmp_path / "d.csv")


def test_image_folder_labels_come_from_subfolders(tmp_path):
    for label, value in (("cat", 0), ("dog", 255)):
        (tmp_path / label).mkdir()
        for i in range(2):
            Image.new("RGB", (5, 4), (value, 0, 0)).save(tmp_path / label / f"{i}.png")
    ds = load_data(tmp_path)
    assert ds.x.shape == (4, 3, 4, 5)
    assert ds.labels.tolist() == ["cat", "cat", "dog", "dog"]
    assert ds.x[2:, 0].min() == 1.0 and ds.x[:, 1:].max() == 0.0


def test_greyscale_image_folder_has_one_channel_and_no_labels(tmp_path):
    for i in range(3):
        Image.new("L", (6, 6), i * 100).save(tmp_path / f"{i}.png")
    ds = load_data(tmp_path)
    assert ds.x.shape == (3, 1, 6, 6) and ds.labels is None


def test_images_of_different_sizes_are_a_shape_mismatch(tmp_path):
    Image.new("L", (6, 6)).save(tmp_path / "a.png")
    Image.new("L", (7, 6)).save(tmp_path / "b.png")
    with pytest.raises(ShapeMismatch, match="differ in size"):
        load_data(tmp_path)


def test_sklearn_digits_are_8x8_in_0_1_with_labels():
    ds = load_data("digits")
    assert ds.x.shape == (1797, 1, 8, 8) and ds.x.max() == 1.0 and len(ds.labels) == 1797


def test_the_shipped_heldout_digits_are_the_last_1000_mnist_test_digits():
    ds = load_data("mnist-heldout")
    assert ds.x.shape == (1000, 1, 28, 28) and sorted(set(ds.labels.tolist())) == list(range(10))


def test_split_keeps_file_order():
    train, test = load_data("digits").split(1700)
    assert (
        len(train) == 1700
        and len(test) == 97
        and test.labels[0] == load_data("digits").labels[1700]
    )


@pytest.mark.parametrize("name", ["missing.npy", "x.txt"])
def test_missing_or_unknown_files_are_data_errors(tmp_path, name):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(DataError):
        load_data(tmp_path / name)


def test_an_image_file_becomes_one_model_input(tmp_path):
    Image.new("RGB", (40, 30), (255, 255, 255)).save(tmp_path / "a.png")
    x = load_image_as(tmp_path / "a.png", (1, 28, 28))
    assert x.shape == (1, 1, 28, 28) and x.min() == pytest.approx(1.0)

"""PSNR and MS-SSIM give the numbers the reference implementations give."""

import math

import numpy as np
import pytest

from aecodec.metrics import MS_SSIM_MIN_SIDE, ms_ssim, psnr


def noisy_pair(height: int, width: int, sigma: float, seed: int = 0):
    """A smooth gradient image and a noisy copy of it, both uint8 RGB."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    clean = np.stack([x / width * 255, y / height * 255, (x + y) % 97 * 2.5], axis=-1)
    noisy = clean + rng.normal(0, sigma, clean.shape)
    return clean.astype(np.uint8), np.clip(noisy, 0, 255).astype(np.uint8)


def test_psnr_agrees_with_scikit_image():
    skimage_metrics = pytest.importorskip("skimage.metrics")
    a, b = noisy_pair(64, 48, sigma=8)
    expected = skimage_metrics.peak_signal_noise_ratio(a, b, data_range=255)
    assert psnr(a, b) == pytest.approx(expected, abs=0.01)


def test_psnr_of_identical_images_is_infinite():
    a, _ = noisy_pair(16, 16, sigma=1)
    assert psnr(a, a) == math.inf


# Odd sides take the padding path; strong noise drives some contrast terms towards zero.
@pytest.mark.parametrize(("shape", "sigma"), [((192, 192), 4), ((197, 231), 25)])
def test_ms_ssim_agrees_with_pytorch_msssim(shape, sigma):
    torch = pytest.importorskip("torch")
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    a, b = noisy_pair(*shape, sigma=sigma)
    to_tensor = lambda x: torch.from_numpy(x.copy()).permute(2, 0, 1)[None].float()  # noqa: E731
    expected = float(pytorch_msssim.ms_ssim(to_tensor(a), to_tensor(b), data_range=255))
    assert ms_ssim(a, b) == pytest.approx(expected, abs=1e-4)


def test_ms_ssim_of_identical_images_is_one():
    a, _ = noisy_pair(MS_SSIM_MIN_SIDE, MS_SSIM_MIN_SIDE, sigma=1)
    assert ms_ssim(a, a) == pytest.approx(1.0, abs=1e-12)


def test_ms_ssim_is_undefined_below_161_pixels_a_side():
    a, b = noisy_pair(MS_SSIM_MIN_SIDE - 1, 300, sigma=5)
    assert MS_SSIM_MIN_SIDE == 161
    assert math.isnan(ms_ssim(a, b))


def test_images_must_match_in_shape_and_be_8_bit():
    a, b = noisy_pair(32, 32, sigma=5)
    with pytest.raises(ValueError, match="shape"):
        psnr(a, b[:16])
    with pytest.raises(ValueError, match="uint8"):
        ms_ssim(a.astype(np.float32), b)

"""Distortion metrics on 8-bit RGB images, as the learned-compression literature reports them.

PSNR is computed over all three channels at once (one MSE over R, G and B, MAX = 255), which is
CompressAI's "psnr-rgb". MS-SSIM is Wang, Simoncelli and Bovik's multi-scale SSIM (Asilomar 2003)
with the usual constants: five scales with weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), an
11-tap Gaussian window of sigma 1.5 applied without padding, K1 = 0.01, K2 = 0.03, per-channel
values averaged over R, G and B. It reproduces `pytorch_msssim.ms_ssim` (what CompressAI uses)
to within float rounding (both compute in float32), without needing that package.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WINDOW, SIGMA = 11, 1.5
# Five scales halve the image four times and the window must still fit in the smallest one:
# pytorch_msssim asserts min side > (11 - 1) * 2**4 = 160.
MS_SSIM_MIN_SIDE = (WINDOW - 1) * 2 ** (len(MS_SSIM_WEIGHTS) - 1) + 1


def _check_pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} and {b.shape}")
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {a.dtype} and {b.dtype}")
    return a, b


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 images (MAX = 255, one MSE over all channels); inf if equal."""
    a, b = _check_pair(a, b)
    return psnr_of_mse(float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def psnr_of_mse(mse: float, peak: float = 255.0) -> float:
    """PSNR in dB of a mean squared error on values from 0 to `peak`; inf for no error."""
    return math.inf if mse <= 0 else 10 * math.log10(peak**2 / mse)


def to_db(ms_ssim_value: float) -> float:
    """MS-SSIM on the decibel scale papers plot, -10 log10(1 - MS-SSIM)."""
    return -10 * math.log10(max(1 - ms_ssim_value, 1e-12))


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """MS-SSIM between two uint8 RGB (H, W, 3) images, data range 255.

    Images smaller than 161 pixels on a side return nan: the window no longer fits the fifth
    scale, and a metric with fewer scales would be a different number under the same name.
    """
    a, b = _check_pair(a, b)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) RGB images, got shape {a.shape}")
    if min(a.shape[:2]) < MS_SSIM_MIN_SIDE:
        return math.nan
    # float32 like pytorch_msssim: float64 convolutions are ten times slower on a CPU.
    x = torch.from_numpy(a.astype(np.float32)).permute(2, 0, 1)[None]
    y = torch.from_numpy(b.astype(np.float32)).permute(2, 0, 1)[None]
    weights = torch.tensor(MS_SSIM_WEIGHTS, dtype=torch.float64)
    factors = []
    for level in range(len(MS_SSIM_WEIGHTS)):
        ssim, cs = _ssim(x, y, data_range=255.0)
        if level == len(MS_SSIM_WEIGHTS) - 1:
            factors.append(torch.relu(ssim))
            break
        factors.append(torch.relu(cs))
        # Odd sizes are padded by one (and the pad counted as zeros), as pytorch_msssim does.
        padding = [s % 2 for s in x.shape[2:]]
        x = F.avg_pool2d(x, kernel_size=2, padding=padding)
        y = F.avg_pool2d(y, kernel_size=2, padding=padding)
    per_channel = torch.prod(torch.stack(factors).double() ** weights.view(-1, 1, 1), dim=0)
    return float(per_channel.mean())


def _gaussian_window() -> torch.Tensor:
    coords = torch.arange(WINDOW, dtype=torch.float32) - WINDOW // 2
    g = torch.exp(-(coords**2) / (2 * SIGMA**2))
    return g / g.sum()


def _blur(x: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter per channel, 'valid' borders (the output shrinks by 10)."""
    channels = x.shape[1]
    g = _gaussian_window().to(x.dtype)
    x = F.conv2d(x, g.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(x, g.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)


def _ssim(x: torch.Tensor, y: torch.Tensor, data_range: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel SSIM and contrast-structure terms, each of shape (N, C)."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    # The five local moments in one convolution call: fewer, larger calls are much faster.
    mu_x, mu_y, xx, yy, xy = _blur(torch.cat([x, y, x * x, y * y, x * y], dim=1)).chunk(5, dim=1)
    var_x = xx - mu_x**2
    var_y = yy - mu_y**2
    cov = xy - mu_x * mu_y
    cs_map = (2 * cov + c2) / (var_x + var_y + c2)
    ssim_map = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1) * cs_map
    return ssim_map.flatten(2).mean(-1), cs_map.flatten(2).mean(-1)

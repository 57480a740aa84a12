"""Variable-rate mean-scale hyperprior codec.

- Ballé, Minnen, Singh, Hwang, Johnston, "Variational image compression with a scale
  hyperprior", ICLR 2018: analysis g_a, synthesis g_s, hyper-analysis h_a, hyper-synthesis h_s,
  a factorised prior on z and a Gaussian conditional on y.
- Minnen, Ballé, Toderici, "Joint Autoregressive and Hierarchical Priors for Learned Image
  Compression", NeurIPS 2018: the hyperprior predicts means as well as scales.
- Cui, Wang, Gao, Bai, Feng, "Asymmetric Gained Deep Image Compression With Continuous Rate
  Adaptation", CVPR 2021: per-channel gain and inverse-gain vectors, one pair per rate-distortion
  trade-off lambda, interpolated between neighbours for a continuous quality knob.
- He, Zheng, Sun, Wang, Qin, "Checkerboard Context Model for Efficient Learned Image
  Compression", CVPR 2021: optional (config.context), see entropy/checkerboard.py.
- He, Zhu, Sun, Wang, Qin, Zhou, "ELIC: Efficient Learned Image Compression with Unevenly
  Grouped Space-Channel Contextual Adaptive Coding", CVPR 2022: the checkerboard plus a context
  across channel groups (config.context = "space-channel"), see entropy/channel.py.

`forward()` is the training face (noise for the rate, rounding for the reconstruction);
`compress()` and `decompress()` are the coding face and need `freeze()` first.
"""

import itertools
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from aecodec.config import JsonConfig
from aecodec.entropy import (
    EntropyBottleneck,
    GaussianConditional,
    IntegerHyperSynthesis,
    coder,
    rdoq,
    table_indexes,
)
from aecodec.entropy.channel import SpaceChannelContext
from aecodec.entropy.checkerboard import CheckerboardContext
from aecodec.entropy.gaussian import scale_table
from aecodec.entropy.integer import gaussian_parameters
from aecodec.entropy.tables import Tables
from aecodec.nn import GDN, conv, deconv, subpel_up


@dataclass
class HyperpriorConfig(JsonConfig):
    N: int = 128  # channels of the transforms and of z
    M: int = 192  # channels of y
    # Rate-distortion trade-offs, low to high quality; loss = R + lambda * 255^2 * MSE on 0..1.
    lambdas: tuple[float, ...] = field(
        default=(0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932)
    )
    # "none", "checkerboard" (a spatial context on top of the hyperprior) or "space-channel"
    # (the checkerboard plus a context across channel groups)
    context: str = "none"


CONTEXTS = {
    "none": lambda M: None,
    "checkerboard": CheckerboardContext,
    "space-channel": SpaceChannelContext,
}


class Hyperprior(nn.Module):
    stride = 64  # total downsampling from pixels to z: inputs are padded to a multiple of it

    def __init__(self, config: HyperpriorConfig) -> None:
        super().__init__()
        self.config = config
        N, M, levels = config.N, config.M, len(config.lambdas)
        self.g_a = nn.Sequential(
            conv(3, N), GDN(N), conv(N, N), GDN(N), conv(N, N), GDN(N), conv(N, M)
        )
        self.g_s = nn.Sequential(
            deconv(M, N), GDN(N, inverse=True), deconv(N, N), GDN(N, inverse=True),
            deconv(N, N), GDN(N, inverse=True), deconv(N, 3),
        )  # fmt: skip
        self.h_a = nn.Sequential(conv(M, N, 3, 1), nn.ReLU(), conv(N, N), nn.ReLU(), conv(N, N))
        self.h_s = nn.Sequential(
            subpel_up(N, M), nn.ReLU(), subpel_up(M, M * 3 // 2), nn.ReLU(),
            nn.Conv2d(M * 3 // 2, 2 * M, 1),
        )  # fmt: skip
        self.gain = nn.Parameter(torch.ones(levels, M))
        self.inverse_gain = nn.Parameter(torch.ones(levels, M))
        self.entropy_bottleneck = EntropyBottleneck(N)
        self.gaussian = GaussianConditional()
        if config.context not in CONTEXTS:
            raise ValueError(f"unknown context model '{config.context}'")
        self.context_model = CONTEXTS[config.context](M)
        self.h_s_exact = IntegerHyperSynthesis(self.h_s)
        self.tables: dict[str, Tables] = {}

    # -- training face ---------------------------------------------------------------------

    def forward(self, x: Tensor, levels: Tensor) -> dict[str, Tensor]:
        """x in [0, 1], levels: (B,) integer lambda index per image."""
        gain = self.gain.abs()[levels][:, :, None, None]
        inverse_gain = self.inverse_gain.abs()[levels][:, :, None, None]
        y_hat, likelihoods = self.entropy_forward(self.g_a(x) * gain)
        return {"x_hat": self.g_s(y_hat * inverse_gain), **likelihoods}

    def entropy_forward(self, y: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Gained y -> y_hat for the synthesis, and the likelihoods of y and z."""
        z = self.h_a(y)
        z_hat = z + (torch.round(z) - z).detach()
        hyper = self.h_s(z_hat)
        if self.context_model is None:
            scales, means = hyper.chunk(2, dim=1)
        else:
            scales, means = self.context_model(hyper, y)
        if self.training:
            z_noisy = z + torch.empty_like(z).uniform_(-0.5, 0.5)
            y_noisy = y + torch.empty_like(y).uniform_(-0.5, 0.5)
        else:  # evaluation: the rate of the symbols the coder would really send
            z_noisy, y_noisy = z_hat, torch.round(y - means) + means
        # The rate sees noise; the synthesis sees what the decoder will: round(y - mu) + mu.
        y_hat = y + (torch.round(y - means) + means - y).detach()
        return y_hat, {
            "y_likelihood": self.gaussian.likelihood(y_noisy, scales, means),
            "z_likelihood": self.entropy_bottleneck.likelihood(z_noisy),
        }

    def aux_loss(self) -> Tensor:
        return self.entropy_bottleneck.aux_loss()

    # -- coding face -----------------------------------------------------------------------

    def gains(self, quality: float) -> tuple[Tensor, Tensor]:
        """Gain vectors for a quality in [0, 100], geometric between neighbouring lambdas."""
        low, t = self._between_lambdas(quality)
        gain, inverse = self.gain.abs().detach(), self.inverse_gain.abs().detach()
        mix = lambda g: g[low] ** (1 - t) * g[low + 1] ** t  # noqa: E731
        return mix(gain)[None, :, None, None], mix(inverse)[None, :, None, None]

    def rd_lambda(self, quality: float) -> float:
        """The trade-off a quality stands for, interpolated as its gains are."""
        low, t = self._between_lambdas(quality)
        lambdas = self.config.lambdas
        return lambdas[low] ** (1 - t) * lambdas[low + 1] ** t

    def _between_lambdas(self, quality: float) -> tuple[int, float]:
        position = float(np.clip(quality, 0, 100)) / 100 * (len(self.config.lambdas) - 1)
        low = min(int(position), len(self.config.lambdas) - 2)
        return low, position - low

    @torch.no_grad()
    def freeze(self) -> None:
        """Build the integer tables and the exact hyper-synthesis; needed before coding."""
        self.freeze_exact()
        self.tables = {"z": self.entropy_bottleneck.freeze(), "y": self.gaussian.freeze()}

    @torch.no_grad()
    def freeze_exact(self) -> None:
        """The fixed-point twins of h_s (and of the context model) from the float weights."""
        self.h_s_exact.freeze(self.h_s)
        if self.context_model is not None:
            self.context_model.freeze()

    def _require_frozen(self) -> None:
        if not self.tables:
            raise RuntimeError("entropy tables missing: call model.freeze() after training")

    @property
    def y_streams(self) -> int:
        """Coded streams of y: one, or one per half for the checkerboard (whose files predate
        streams that hold several groups; the space-channel context codes ten in one)."""
        return 2 if self.config.context == "checkerboard" else 1

    @property
    def latent_payloads(self) -> int:
        """Byte strings per coded latent: z, then the streams of y."""
        return 1 + self.y_streams

    @torch.no_grad()
    def compress_latent(
        self, y: Tensor, tau: float = 0.0, nearest: bool = True
    ) -> tuple[list[bytes], dict]:
        """Gained latent y (1, M, h, w), h and w multiples of 4 -> [z bytes, y bytes...] and
        {"estimated_bits": the model's own -log2 likelihood, to compare the file against,
         "y_hat": what the decoder will rebuild}. With tau > 0 the symbols are chosen for rate
        plus tau times squared latent error (entropy.rdoq) instead of rounded; `nearest` picks
        the tables as format 2 does, or else as format 1 (entropy.integer.table_indexes)."""
        self._require_frozen()
        z_hat = torch.round(self.h_a(y))
        z_symbols = _ints(z_hat)
        z_rows = np.broadcast_to(np.arange(z_hat.shape[1])[:, None, None], z_symbols.shape)
        strings = [coder.encode(z_symbols.ravel(), z_rows.ravel(), self.tables["z"])]
        y_flat = y[0].reshape(y.shape[1], -1)
        bits = -torch.log2(self.entropy_bottleneck.likelihood(z_hat)).sum()
        encoders = [coder.Encoder(self.tables["y"]) for _ in range(self.y_streams)]
        calls = itertools.count()
        grid = torch.from_numpy(scale_table()).float()  # the scale of each table

        def code_group(means: Tensor, scales: Tensor, positions: Tensor, channels=None) -> Tensor:
            nonlocal bits
            indexes = table_indexes(scales, nearest)
            values = (y_flat if channels is None else y_flat[channels])[:, positions]
            if tau > 0:
                q = rdoq.toward_zero(values - means, indexes, self.tables["y"], tau)
            else:
                q = torch.round(values - means)
            encoder = encoders[min(next(calls), len(encoders) - 1)]
            encoder.encode(q.to(torch.int32).numpy().ravel(), indexes.numpy().ravel())
            likelihood = self.gaussian.likelihood(q + means, grid[indexes], means)
            bits += -torch.log2(likelihood).sum()
            return q

        y_hat = self._code_y(z_hat, code_group)
        strings += [encoder.finish() for encoder in encoders]
        return strings, {"estimated_bits": float(bits), "y_hat": y_hat}

    @torch.no_grad()
    def decompress_latent(
        self, strings: list[bytes], z_shape: tuple[int, int], nearest: bool = True
    ) -> Tensor:
        """Inverse of compress_latent (with the same `nearest`): the gained y_hat, bit-exact
        with the encoder's."""
        self._require_frozen()
        n = self.config.N
        z_rows = np.broadcast_to(np.arange(n)[:, None, None], (n, *z_shape))
        z_symbols = coder.decode(strings[0], z_rows.ravel(), self.tables["z"])
        z_hat = torch.from_numpy(z_symbols.reshape(1, n, *z_shape)).float()
        decoders = [coder.Decoder(data, self.tables["y"]) for data in strings[1:]]
        calls = itertools.count()

        def code_group(means: Tensor, scales: Tensor, positions: Tensor, channels=None) -> Tensor:
            decoder = decoders[min(next(calls), len(decoders) - 1)]
            q = decoder.decode(table_indexes(scales, nearest).numpy().ravel())
            return torch.from_numpy(q.reshape(means.shape))

        y_hat = self._code_y(z_hat, code_group)
        for decoder in decoders:
            decoder.finish()
        return y_hat

    def _code_y(self, z_hat: Tensor, code_group) -> Tensor:
        """y_hat, group by group in coding order; code_group(means, scales, positions[,
        channels]) gives the integer symbols of a group: (c, n) at n positions (flat indices
        into h * w) of c channels (all M when `channels` is not given)."""
        hyper = self.h_s_exact.fixed(z_hat)
        if self.context_model is not None:
            return self.context_model.code(hyper, code_group)
        _, channels, h, w = hyper.shape
        means, scales = gaussian_parameters(hyper)
        everywhere = torch.arange(h * w)
        q = code_group(means[0].reshape(-1, h * w), scales[0].reshape(-1, h * w), everywhere)
        return (q.float() + means[0].reshape(-1, h * w)).reshape(1, -1, h, w)


def _ints(t: Tensor) -> np.ndarray:
    return t[0].to(torch.int32).cpu().numpy()

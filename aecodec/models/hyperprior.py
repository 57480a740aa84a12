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
  Compression", CVPR 2021: optional (config.context), see latent/checkerboard.py.
- He, Zhu, Sun, Wang, Qin, Zhou, "ELIC: Efficient Learned Image Compression with Unevenly
  Grouped Space-Channel Contextual Adaptive Coding", CVPR 2022: the checkerboard plus a context
  across channel groups (config.context = "space-channel"), see latent/space_channel.py.

`forward()` is the training face (noise for the rate, rounding for the reconstruction);
`compress()` and `decompress()` are the coding face, through the latent codec that `freeze()`
builds (latent.HyperpriorCodec): the gained latent y to byte strings and back, exactly.
"""

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from aecodec.config import JsonConfig
from aecodec.entropy.factorized import EntropyBottleneck
from aecodec.entropy.gaussian import GaussianConditional
from aecodec.entropy.integer import IntegerHyperSynthesis
from aecodec.entropy.tables import Tables
from aecodec.gains import between_lambdas
from aecodec.latent import rdoq
from aecodec.latent.checkerboard import CheckerboardContext
from aecodec.latent.hyperprior import CodedLatent, HyperpriorCodec, NoContext
from aecodec.latent.space_channel import SpaceChannelContext
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


# Large images run through the transforms in tiles (nn.tiling): the analysis over tiles of 768
# pixels, the synthesis over 32 latent samples (512 pixels), each with a margin of real
# neighbours beyond its receptive-field radius (30 pixels; under 2 samples).
ANALYSIS_TILE, SYNTHESIS_TILE = 768, 32
MARGIN_PIXELS, MARGIN_LATENT = 32, 2

CONTEXTS = {
    "none": lambda M: None,
    "checkerboard": CheckerboardContext,
    "space-channel": SpaceChannelContext,
}


class Hyperprior(nn.Module):
    y_stride = 16  # pixels per latent sample of y, each way
    stride = 64  # pixels per sample of z: inputs are padded to a multiple of it

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
        z, z_hat, scales, means = self.entropy_parameters(y)
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

    def entropy_parameters(self, y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Gained y -> z, z rounded (straight through), and the float scales and means of y
        from the hyperprior and the context model."""
        z = self.h_a(y)
        z_hat = z + (torch.round(z) - z).detach()
        hyper = self.h_s(z_hat)
        if self.context_model is None:
            return z, z_hat, *hyper.chunk(2, dim=1)
        return z, z_hat, *self.context_model(hyper, y)

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
        return between_lambdas(quality, len(self.config.lambdas))

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

    @property
    def latent_codec(self) -> HyperpriorCodec:
        """The coding face of the entropy side (tables built by freeze(), or loaded)."""
        if not self.tables:
            raise RuntimeError("entropy tables missing: call model.freeze() after training")
        context = self.context_model if self.context_model is not None else NoContext()
        return HyperpriorCodec(
            self.h_a, self.h_s_exact, self.entropy_bottleneck, context, self.tables
        )

    @torch.no_grad()
    def compress(self, y: Tensor, quality: float, nearest: bool = True) -> CodedLatent:
        """The analysis output y (1, M, h, w) at a quality: its latent strings, with each symbol
        chosen for rate plus the quality's trade-off times distortion (latent.rdoq)."""
        gain, inverse_gain = self.gains(quality)
        y = y * gain
        tau = rdoq.tradeoff(self.g_s, y, inverse_gain, self.rd_lambda(quality))
        return self.latent_codec.compress(y, tau, nearest)

    @torch.no_grad()
    def decompress(
        self, strings: list[bytes], z_shape: tuple[int, int], quality: float, nearest: bool = True
    ) -> Tensor:
        """The synthesis input for latent strings coded at a quality: y_hat times its inverse
        gain. ValueError for strings that no encoder wrote."""
        _, inverse_gain = self.gains(quality)
        return self.latent_codec.decompress(strings, z_shape, nearest) * inverse_gain

"""Convolutional autoencoder for images of any channel count and size.

- Masci, Meier, Cireşan, Schmidhuber, "Stacked Convolutional Auto-Encoders for Hierarchical
  Feature Extraction", ICANN 2011: convolutional encoder, transposed-convolution decoder.

Each encoder stage halves the resolution (stride-2 3x3 convolutions, rounding up); a linear
layer maps the last feature map to a code of `latent` numbers, and the decoder mirrors it all,
choosing each transposed convolution's output padding so that odd sizes come back exactly.
`conv_encoder()` and `conv_decoder()` are shared with the convolutional VAE.
"""

from dataclasses import dataclass

from torch import Tensor, nn

from aecodec.config import JsonConfig
from aecodec.family.models.dense import PlainAutoencoder, activation


def stage_sizes(size: int, stages: int) -> list[int]:
    """Spatial size after each stride-2 stage, starting with the input's."""
    sizes = [size]
    for _ in range(stages):
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


def conv_encoder(shape: tuple[int, int, int], widths: tuple[int, ...], act: str) -> nn.Sequential:
    """Stride-2 convolutions then a flatten: (B, C, H, W) -> (B, widths[-1] * h * w)."""
    layers: list[nn.Module] = []
    for a, b in zip((shape[0], *widths[:-1]), widths, strict=True):
        layers += [nn.Conv2d(a, b, 3, stride=2, padding=1), activation(act)]
    return nn.Sequential(*layers, nn.Flatten())


def conv_decoder(shape: tuple[int, int, int], widths: tuple[int, ...], act: str) -> nn.Sequential:
    """The mirror of conv_encoder, from the flat feature map to pre-activation pixels."""
    hs, ws = stage_sizes(shape[1], len(widths)), stage_sizes(shape[2], len(widths))
    layers: list[nn.Module] = [nn.Unflatten(1, (widths[-1], hs[-1], ws[-1]))]
    outs = (*reversed(widths[:-1]), shape[0])
    for i, (a, b) in enumerate(zip(reversed(widths), outs, strict=True)):
        # A 3x3 stride-2 transposed conv with padding 1 gives 2n - 1 (+ output padding 0 or 1).
        j = len(widths) - 1 - i
        pad = (hs[j] - (2 * hs[j + 1] - 1), ws[j] - (2 * ws[j + 1] - 1))
        layers.append(nn.ConvTranspose2d(a, b, 3, stride=2, padding=1, output_padding=pad))
        if i < len(widths) - 1:
            layers.append(activation(act))
    return nn.Sequential(*layers)


def flat_size(shape: tuple[int, int, int], widths: tuple[int, ...]) -> int:
    n = len(widths)
    return widths[-1] * stage_sizes(shape[1], n)[-1] * stage_sizes(shape[2], n)[-1]


@dataclass
class ConvConfig(JsonConfig):
    input_shape: tuple[int, int, int] = (1, 28, 28)  # channels, height, width
    widths: tuple[int, ...] = (32, 64)  # channels of each stride-2 stage
    latent: int = 16
    activation: str = "relu"
    output_activation: str = "sigmoid"


class ConvAE(PlainAutoencoder):
    def __init__(self, config: ConvConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        flat = flat_size(c.input_shape, c.widths)
        self.encoder = nn.Sequential(
            conv_encoder(c.input_shape, c.widths, c.activation), nn.Linear(flat, c.latent)
        )
        self.decoder = nn.Sequential(
            nn.Linear(c.latent, flat), activation(c.activation),
            conv_decoder(c.input_shape, c.widths, c.activation),
        )  # fmt: skip
        self.output = activation(c.output_activation)

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x.reshape(-1, *self.config.input_shape))

    def decode_logits(self, z: Tensor) -> Tensor:
        return self.decoder(z)

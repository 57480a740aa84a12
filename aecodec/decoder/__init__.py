"""A decoder of .aec files that needs numpy alone: no torch (seconds to import) and no compiled
loops, so that decoding one file from the command line is not mostly start-up.

It decodes files of format versions 5 and 6 (the gains of aecodec.gains) of the hyperprior
models, bit for bit as aecodec.codec does (the tests compare them); `decodes(header)` says
whether it takes a file. Its synthesis runs whole, so it takes images up to MAX_PIXELS; the
torch decoder, tiled and spread over the cores, takes the larger ones and the earlier versions.
"""

import math
from pathlib import Path

import numpy as np
from PIL import Image

from aecodec import bitstream

MAX_PIXELS = 4_000_000
STRIDE = 64  # the hyperprior's pixels per sample of z
Y_PER_Z = 4  # samples of y per sample of z along each side


def decodes(header: bitstream.Header) -> bool:
    """Whether this decoder takes a file of this header."""
    return (
        not header.stored
        and header.format_version >= bitstream.GAIN_VERSION
        and header.width * header.height <= MAX_PIXELS
    )


def decompress(
    data: bytes,
    *,
    weights: str | Path | None = None,
    max_pixels: int | None = None,
    strip: bool = False,
) -> Image.Image:
    """aecodec.decompress for the files `decodes` takes: the same pixels, metadata and errors."""
    from aecodec.decoder import container, model
    from aecodec.gains import synthesis_gain
    from aecodec.image import check_pixels
    from aecodec.registry import weights_key

    header, payloads = bitstream.unpack(data)
    if not decodes(header):
        raise ValueError("this decoder takes coded files of format version 5 or later up to 4 MP")
    check_pixels(header.width, header.height, "the file", max_pixels, STRIDE)
    net = model.load(header.model, weights_key(weights))
    container.check_model(header, net.weights_hash)
    grid = container.read_grid(header, payloads, len(net.synthesis.layers))
    strings = container.latent_payloads(header, payloads, 1 + max(net.context.streams) + 1)
    z_shape = (math.ceil(header.height / STRIDE), math.ceil(header.width / STRIDE))
    with container.corrupt_latents():
        y_hat = _latent(net, strings, z_shape, header.format_version)
    inverse_gain = synthesis_gain(net.inverse_gains, header.quality)
    rgb = net.synthesis(y_hat, inverse_gain, grid)[: header.height, : header.width]
    return container.picture(header, payloads, rgb, strip)


def _latent(net, strings: list[bytes], z_shape: tuple[int, int], version: int) -> np.ndarray:
    """The gained y_hat (M, h, w) float32 of a DecoderModel's latent strings, tile by tile as
    aecodec.latent.hyperprior decodes it (the hyperprior's parameters, exact integers, computed
    whole and cut into the tiles)."""
    from aecodec.decoder import latent
    from aecodec.decoder.exact import to_fixed

    z_hat = latent.read_z(strings[0], net.N, z_shape, net.tables["z"])
    hyper = net.hyper_synthesis(to_fixed(z_hat)).astype(np.float32)
    reader = latent.Reader(strings[1:], net.tables["y"], nearest=True)
    y_hat = np.empty((hyper.shape[0] // 2, *hyper.shape[1:]), np.float32)
    for z_rows, z_cols in bitstream.latent_tiles(*z_shape, version):
        rows = slice(Y_PER_Z * z_rows.start, Y_PER_Z * z_rows.stop)
        cols = slice(Y_PER_Z * z_cols.start, Y_PER_Z * z_cols.stop)
        y_hat[:, rows, cols] = net.context.decode(hyper[:, rows, cols], reader)
    reader.finish()
    return y_hat

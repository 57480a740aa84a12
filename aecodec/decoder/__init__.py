"""A decoder of .aec files that needs numpy alone: no torch (seconds to import) and no compiled
loops, so that decoding one file from the command line is not mostly start-up.

It decodes files of format version 5 (the gains of aecodec.gains) of the hyperprior models, bit
for bit as aecodec.codec does (the tests compare them); `decodes(header)` says whether it takes
a file. Its synthesis runs whole, so it takes images up to MAX_PIXELS; the torch decoder, tiled
and spread over the cores, takes the larger ones and the earlier versions.
"""

import math
from pathlib import Path

import numpy as np
from PIL import Image

from aecodec import bitstream

MAX_PIXELS = 4_000_000
STRIDE = 64  # the hyperprior's pixels per sample of z


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
    from aecodec.decoder import container, latent, model
    from aecodec.decoder.exact import to_fixed
    from aecodec.gains import synthesis_gain
    from aecodec.image import check_pixels
    from aecodec.registry import weights_key

    header, payloads = bitstream.unpack(data)
    if not decodes(header):
        raise ValueError("this decoder takes coded files of format version 5 up to 4 MP")
    check_pixels(header.width, header.height, "the file", max_pixels, STRIDE)
    net = model.load(header.model, weights_key(weights))
    container.check_model(header, net.weights_hash)
    grid = container.read_grid(header, payloads, len(net.synthesis.layers))
    strings = container.latent_payloads(header, payloads, 1 + max(net.context.streams) + 1)
    z_shape = (math.ceil(header.height / STRIDE), math.ceil(header.width / STRIDE))
    with container.corrupt_latents():
        z_hat = latent.read_z(strings[0], net.N, z_shape, net.tables["z"])
        hyper = net.hyper_synthesis(to_fixed(z_hat)).astype(np.float32)
        reader = latent.Reader(strings[1:], net.tables["y"], nearest=True)
        y_hat = net.context.decode(hyper, reader).astype(np.float32)
        reader.finish()
    inverse_gain = synthesis_gain(net.inverse_gains, header.quality)
    rgb = net.synthesis(y_hat, inverse_gain, grid)[: header.height, : header.width]
    return container.picture(header, payloads, rgb, strip)

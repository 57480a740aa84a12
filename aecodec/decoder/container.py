"""What both decoders read from a file besides the latents, with numpy and Pillow alone: the
checks of a file against its model, the synthesis grid, the latent payloads, the alpha plane,
metadata and stored pixels."""

import contextlib
import io
import struct
import warnings
from collections.abc import Iterator

import numpy as np
from PIL import Image

from aecodec import bitstream
from aecodec.errors import BitstreamError, ModelError
from aecodec.image import to_pil


def check_model(header: bitstream.Header, weights_hash: bytes) -> None:
    """ModelError unless the file was written by the weights of this hash."""
    if weights_hash != header.weights_hash:
        raise ModelError(
            f"the file was written with other weights for model '{header.model}' "
            f"(file {header.weights_hash.hex()}, loaded {weights_hash.hex()})"
        )


def latent_payloads(header: bitstream.Header, payloads: list[bytes], count: int) -> list[bytes]:
    """The latent coder's `count` payloads (after the grid), the file's payload count checked."""
    first = int(header.format_version >= bitstream.INTEGER_VERSION)  # the synthesis grid
    expected = first + count + header.has_alpha + header.has_metadata
    if len(payloads) != expected:
        raise BitstreamError(f"expected {expected} payloads, found {len(payloads)}")
    return payloads[first : first + count]


@contextlib.contextmanager
def corrupt_latents() -> Iterator[None]:
    """Errors of a latent stream no encoder wrote, as one BitstreamError. Only crafted files get
    here (the checksums catch accidents); constriction reports data that no encoder could have
    written with an AssertionError."""
    try:
        yield
    except (ValueError, IndexError, AssertionError, OverflowError) as error:
        raise BitstreamError(f"corrupted latent stream: {error}") from None


def picture(
    header: bitstream.Header, payloads: list[bytes], rgb: np.ndarray, strip: bool
) -> Image.Image:
    """The image of a coded file from its synthesis's pixels (h, w, 3) uint8: the alpha plane
    and the metadata block (the last payload, after the alpha plane) from its payloads."""
    metadata = bitstream.Metadata()
    if header.has_metadata:
        block, payloads = payloads[-1], payloads[:-1]
        metadata = metadata if strip else bitstream.unpack_metadata(block)
    alpha = unpng(payloads[-1], header) if header.has_alpha else None
    return to_pil(np.ascontiguousarray(rgb), alpha, header.layout, metadata)


def read_grid(header: bitstream.Header, payloads: list[bytes], layers: int) -> tuple[int, ...]:
    """A version 4 or later file's synthesis grid (its first payload), checked; () before."""
    if header.format_version < bitstream.INTEGER_VERSION:
        return ()
    if not payloads:
        raise BitstreamError("the file has no payloads: not even its synthesis grid")
    grid = struct.unpack(f">{len(payloads[0])}b", payloads[0])
    if len(grid) != layers:
        raise BitstreamError(
            f"the synthesis grid has {len(grid)} layers, the model's synthesis {layers}"
        )
    if not all(bitstream.GRID_RANGE[0] <= e <= bitstream.GRID_RANGE[1] for e in grid):
        raise BitstreamError(
            f"synthesis grid {grid} outside {bitstream.GRID_RANGE[0]}..{bitstream.GRID_RANGE[1]}"
        )
    return grid


def from_stored(header: bitstream.Header, payloads: list[bytes], strip: bool) -> Image.Image:
    """The image of a file that stores its pixels."""
    channels = len(header.layout)
    planes = np.frombuffer(payloads[0], np.uint8).reshape(header.height, header.width, channels)
    rgb = planes[..., :3] if channels >= 3 else np.repeat(planes[..., :1], 3, axis=2)
    alpha = planes[..., -1] if header.has_alpha else None
    keep = header.has_metadata and not strip
    metadata = bitstream.unpack_metadata(payloads[-1]) if keep else bitstream.Metadata()
    return to_pil(np.ascontiguousarray(rgb), alpha, header.layout, metadata)


def unpng(data: bytes, header: bitstream.Header) -> np.ndarray:
    """The alpha plane, a PNG whose size is checked from its header before a pixel is decoded:
    the plane must not be able to allocate more than the image it belongs to."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # judged just below
            with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
                if image.size != (header.width, header.height) or image.mode != "L":
                    raise BitstreamError("alpha plane does not match the image size")
                plane = np.asarray(image)
    except BitstreamError:
        raise
    except Exception as error:  # Pillow raises many types on bad data
        raise BitstreamError(f"corrupted alpha plane: {error}") from None
    if plane.shape != (header.height, header.width):
        raise BitstreamError("alpha plane does not match the image size")
    return plane

"""A picture's ICC profile, EXIF and XMP between Pillow and the `.aec` file (`bitstream.Metadata`).

Reading keeps the metadata consistent with the pixels the codec sees: an orientation that was
applied to the pixels is reset to 1 (else viewers would turn the decoded image a second time),
and a profile for other colours than the pixels' (a CMYK profile on CMYK converted to RGB) is
dropped with a warning. Writing puts each item where the output format keeps it, and warns when
a format cannot keep the profile, since the colours then change.
"""

import re

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from aecodec.bitstream import Metadata

__all__ = ["Metadata", "from_pil", "pil_info", "save_options"]

ORIENTATION = 0x0112  # EXIF tag
EXIF_HEAD = b"Exif\x00\x00"  # JPEG's APP1 prefix; PNG, WebP and .aec store the TIFF data alone
_PROFILE_SPACES = {"L": b"GRAY", "LA": b"GRAY", "RGB": b"RGB ", "RGBA": b"RGB "}  # ICC bytes 16..19
# A TIFF's own first IFD also describes its strips and compression; these are its EXIF tags.
_TIFF_EXIF_TAGS = {
    0x010E, 0x010F, 0x0110, 0x0112, 0x011A, 0x011B, 0x0128, 0x012D, 0x0131, 0x0132, 0x013B,
    0x013E, 0x013F, 0x0211, 0x0213, 0x0214, 0x8298, 0x8769, 0x8825,
}  # fmt: skip
_SUB_IFDS = {0x8769: "camera", 0x8825: "GPS"}  # EXIF tags pointing to further directories
_XMP_ORIENTATION = re.compile(rb'(tiff:Orientation="|<tiff:Orientation>)[0-9]')
_JPEG_MARKER = 65533  # bytes in one JPEG marker segment after its length field
_JPEG_XMP_HEAD = len(b"http://ns.adobe.com/xap/1.0/\x00")


def from_pil(image: Image.Image, turned: bool, layout: str, warnings: list[str]) -> Metadata:
    """The metadata of a loaded image whose pixels become `layout`; `turned`: whether its EXIF or
    XMP orientation was applied to them."""
    profile = image.info.get("icc_profile") or None
    if profile is not None and bytes(profile[16:20]) != _PROFILE_SPACES[layout]:
        space = bytes(profile[16:20]).decode("latin-1").strip()
        warnings.append(f"ICC profile dropped: it describes {space!r} colours, not {layout}")
        profile = None
    return Metadata(profile, _exif(image), _xmp(image.info, turned))


def pil_info(metadata: Metadata) -> dict:
    """The entries of a PIL image's `.info` that hold `metadata`, as Pillow's readers give them."""
    info = {"icc_profile": metadata.icc_profile, "xmp": metadata.xmp}
    info["exif"] = metadata.exif and EXIF_HEAD + metadata.exif
    return {key: value for key, value in info.items() if value is not None}


def save_options(format: str, info: dict) -> tuple[dict, list[str]]:
    """Pillow's save options that write the metadata in `info` (see pil_info) as `format`, and
    warnings for what that format cannot hold."""
    profile, xmp = info.get("icc_profile"), info.get("xmp")
    xmp = xmp.encode() if isinstance(xmp, str) else xmp
    exif = info.get("exif")
    exif = (exif.tobytes() if isinstance(exif, Image.Exif) else exif or b"").removeprefix(EXIF_HEAD)
    options, warnings = {"icc_profile": profile} if profile else {}, []
    if format == "PNG":
        options["exif"] = exif
        if xmp:  # Pillow writes PNG's XMP only from a text chunk
            try:
                options["pnginfo"] = PngInfo()
                options["pnginfo"].add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8"))
            except UnicodeDecodeError:
                warnings.append("XMP left out: it is not UTF-8 text")
    elif format == "JPEG":
        if exif and len(EXIF_HEAD + exif) > _JPEG_MARKER:
            warnings.append(f"EXIF left out: its {len(exif):,} bytes do not fit in a JPEG marker")
        elif exif:
            options["exif"] = EXIF_HEAD + exif
        if xmp and len(xmp) > _JPEG_MARKER - _JPEG_XMP_HEAD:
            warnings.append(f"XMP left out: its {len(xmp):,} bytes do not fit in a JPEG marker")
        elif xmp:
            options["xmp"] = xmp
    elif format == "WEBP":
        options.update(exif=exif, xmp=xmp or b"")
    elif format == "TIFF":  # EXIF tags go into the TIFF's own directory, XMP as its tag 700
        tags = Image.Exif()
        tags.load(exif)
        if lost := [name for tag, name in _SUB_IFDS.items() if tags.pop(tag, None) is not None]:
            warnings.append(
                f"EXIF {' and '.join(lost)} data left out: Pillow cannot write it into a "
                "compressed TIFF; use .png, .jpg or .webp to keep it"
            )
        if xmp:
            tags[700] = xmp
        if len(tags):
            options["exif"] = tags
    elif profile:
        warnings.append(
            f"{format} cannot store the ICC colour profile, so the colours will look different; "
            "use .png, .jpg, .webp or .tiff to keep them"
        )
    return options, warnings


def _exif(image: Image.Image) -> bytes | None:
    raw = image.info.get("exif")
    if isinstance(raw, bytes):
        exif = Image.Exif()
        try:
            exif.load(raw)
        except Exception:  # unreadable: copied as it came, the one thing left to do with it
            return raw.removeprefix(EXIF_HEAD) or None
        if exif.get(ORIENTATION, 1) == 1:
            return raw.removeprefix(EXIF_HEAD) or None  # as it came, byte for byte
    elif image.format == "TIFF":
        exif = _copy(image.getexif())
        for tag in set(exif) - _TIFF_EXIF_TAGS:
            del exif[tag]
    elif image.format is None or "Raw profile type exif" in image.info:
        exif = _copy(image.getexif())  # set through getexif() in memory, or ImageMagick's text
    else:
        return None
    if exif.get(ORIENTATION, 1) != 1:
        exif[ORIENTATION] = 1  # the pixels were turned (or the value means nothing to anyone)
    return exif.tobytes().removeprefix(EXIF_HEAD) if len(exif) else None


def _copy(exif: Image.Exif) -> Image.Exif:
    """A copy to edit: getexif() gives the image's own object, which the caller still holds."""
    copy = Image.Exif()
    copy.load(exif.tobytes())
    return copy


def _xmp(info: dict, turned: bool) -> bytes | None:
    xmp = info.get("xmp") or info.get("XML:com.adobe.xmp")
    xmp = xmp.encode() if isinstance(xmp, str) else xmp
    if not isinstance(xmp, bytes) or not xmp:
        return None
    return _XMP_ORIENTATION.sub(rb"\g<1>1", xmp) if turned else xmp

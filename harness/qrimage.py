"""QR images: rendering the pairing text as a real QR code, and reading an image back with zbar or zxing-cpp.

The text itself is :mod:`harness.protocol.qr`'s (sans-IO); this module is where it meets pixels and the C
decoders, which is why it is not in :mod:`harness.protocol`. zbar reads in its binary mode by default (raw
bytes), or with its charset-guessing default to model naive firmware; zxing-cpp is the second opinion. The image
libraries are imported lazily, inside the functions that use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from harness.protocol.errors import LocalProtocolError
from harness.protocol.qr import utf8_bytes

if TYPE_CHECKING:
    from PIL import Image

# Largest byte-mode payload of a version 40 symbol, per error-correction level (ISO/IEC 18004 table 7).
_BYTE_CAPACITY = {"L": 2953, "M": 2331, "Q": 1663, "H": 1273}
# zbar's ZBAR_CFG_BINARY (zbar >= 0.23, the entry after ZBAR_CFG_ASCII in zbar_config_t): "don't convert
# binary data to text". pyzbar's ZBarConfig enum predates it, so the value is spelt out here.
_ZBAR_CFG_BINARY = 4
_ZBAR_Y800 = int.from_bytes(b"Y800", "little")  # fourcc of 8-bit greyscale


class QrBackendError(RuntimeError):
    """A QR library is missing or lacks a feature: lab trouble, never the device's fault."""


ErrorCorrection = Literal["L", "M", "Q", "H"]


def render_qr(text: str | bytes, *, error_correction: ErrorCorrection = "M", box_size: int = 8,
              border: int = 4) -> Image.Image:
    """Render ``text`` as a QR code in byte mode with its UTF-8 bytes (§1.2), so that non-ASCII survives."""
    data = utf8_bytes(text, "QR text")
    if error_correction not in _BYTE_CAPACITY:
        raise LocalProtocolError(f"error_correction must be one of L, M, Q, H, got {error_correction!r}")
    for name, value, least in (("box_size", box_size, 1), ("border", border, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise LocalProtocolError(f"{name} must be an int >= {least}, got {value!r}")
    if len(data) > _BYTE_CAPACITY[error_correction]:
        raise LocalProtocolError(f"{len(data)} bytes do not fit in a QR code at error correction {error_correction} "
                                 f"(at most {_BYTE_CAPACITY[error_correction]})")
    import qrcode
    from qrcode.exceptions import DataOverflowError
    from qrcode.util import MODE_8BIT_BYTE, QRData

    levels = {"L": qrcode.constants.ERROR_CORRECT_L, "M": qrcode.constants.ERROR_CORRECT_M,
              "Q": qrcode.constants.ERROR_CORRECT_Q, "H": qrcode.constants.ERROR_CORRECT_H}
    code = qrcode.QRCode(error_correction=levels[error_correction], box_size=box_size, border=border)
    code.add_data(QRData(data, mode=MODE_8BIT_BYTE))
    try:
        code.make(fit=True)
    except DataOverflowError:
        raise LocalProtocolError(f"{len(data)} bytes do not fit in a QR code at error correction "
                                 f"{error_correction}") from None
    image: Image.Image = code.make_image().get_image()
    return image


Backend = Literal["zbar", "zxing"]


def decode_qr(image: Image.Image, *, backend: Backend = "zbar", zbar_binary: bool = True) -> list[bytes]:
    """The exact bytes of every QR symbol found in ``image``, sorted; an empty list if there is none.

    ``backend="zbar"`` reads with libzbar through pyzbar. With ``zbar_binary=True`` (the default) zbar runs in
    its binary mode and returns the raw bytes; ``zbar_binary=False`` keeps zbar's default, which guesses a
    charset and re-encodes, mangling some UTF-8 (Latin-1 letters such as "é" come out as Shift-JIS kanji):
    what naive firmware built on zbar gets. ``backend="zxing"`` reads with zxing-cpp and returns its raw bytes.
    """
    if backend not in ("zbar", "zxing"):
        raise LocalProtocolError(f"unknown QR decoder backend {backend!r}: use 'zbar' or 'zxing'")
    from PIL import Image as PILImage

    if not isinstance(image, PILImage.Image):
        raise LocalProtocolError(f"decode_qr needs a PIL image, got {type(image).__name__}")
    grey = image if image.mode == "L" else image.convert("L")
    found = _decode_zbar(grey, binary=zbar_binary) if backend == "zbar" else _decode_zxing(grey)
    return sorted(found)


def _decode_zbar(grey: Image.Image, *, binary: bool) -> list[bytes]:
    import ctypes

    try:
        from pyzbar import wrapper as zbar
    except ImportError as exc:
        raise QrBackendError(f"zbar is not available ({exc}); install libzbar0") from None
    width, height = grey.size
    pixels = ctypes.create_string_buffer(grey.tobytes(), width * height)  # alive until the scan is over
    found: list[bytes] = []
    scanner = zbar.zbar_image_scanner_create()
    if not scanner:
        raise QrBackendError("zbar could not create an image scanner")
    try:
        zbar.zbar_image_scanner_set_config(scanner, zbar.ZBarSymbol.NONE, zbar.ZBarConfig.CFG_ENABLE, 0)
        zbar.zbar_image_scanner_set_config(scanner, zbar.ZBarSymbol.QRCODE, zbar.ZBarConfig.CFG_ENABLE, 1)
        if binary and zbar.zbar_image_scanner_set_config(scanner, zbar.ZBarSymbol.QRCODE, _ZBAR_CFG_BINARY, 1):
            raise QrBackendError("this libzbar has no binary mode (ZBAR_CFG_BINARY needs zbar 0.23 or later)")
        zimage = zbar.zbar_image_create()
        if not zimage:
            raise QrBackendError("zbar could not create an image")
        try:
            zbar.zbar_image_set_format(zimage, _ZBAR_Y800)
            zbar.zbar_image_set_size(zimage, width, height)
            zbar.zbar_image_set_data(zimage, ctypes.cast(pixels, ctypes.c_void_p), width * height, None)
            if zbar.zbar_scan_image(scanner, zimage) < 0:
                raise QrBackendError("zbar failed to scan the image")
            symbol = zbar.zbar_image_first_symbol(zimage)
            while symbol:
                found.append(ctypes.string_at(zbar.zbar_symbol_get_data(symbol),
                                              zbar.zbar_symbol_get_data_length(symbol)))
                symbol = zbar.zbar_symbol_next(symbol)
        finally:
            zbar.zbar_image_destroy(zimage)
    finally:
        zbar.zbar_image_scanner_destroy(scanner)
    return found


def _decode_zxing(grey: Image.Image) -> list[bytes]:
    try:
        import zxingcpp
    except ImportError as exc:
        raise QrBackendError(f"zxing-cpp is not available ({exc})") from None
    results = zxingcpp.read_barcodes(grey, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    return [result.bytes for result in results]


__all__ = ["Backend", "ErrorCorrection", "QrBackendError", "decode_qr", "render_qr"]

"""A QR code on a terminal: the module matrix read back from an image, drawn with Unicode half blocks.

A real camera reads the QR from a screen held in front of it (seeds/device-pairing-qr-mode.txt: the app shows
the code, the camera scans it). The operator adapter draws it in the terminal so that a laptop or phone screen
will do: each character cell holds two modules, one above the other (``▀``, ``▄``, ``█``, space), so the
modules come out about square in an ordinary monospace font, with the four-module quiet zone around them.

With ``colour`` the code is drawn black on bright white with ANSI colours, which scans whatever the terminal's
own theme; without it, ink is dark modules (right on paper and light themes; the text form the tests read back).
"""

from __future__ import annotations

import re

from PIL import Image

Modules = list[list[bool]]  # rows of modules, True = dark

QUIET_ZONE = 4
_FINDER_MODULES = 7
_ANSI_START = "\x1b[30;107m"  # black on bright white
_ANSI_END = "\x1b[0m"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CELLS = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}
_FROM_CELL = {char: pair for pair, char in _CELLS.items()}


def qr_modules(image: Image.Image) -> Modules:
    """The module matrix of the QR code in ``image`` (quiet zone excluded), sampled at module centres.

    The symbol's extent is the bounding box of its dark pixels; the module size comes from the top-left
    finder pattern, seven modules wide (ISO/IEC 18004). Raises ValueError when the image is not a plain,
    upright QR code (which is all the harness renders).
    """
    grey = image.convert("L")
    dark = grey.point(lambda v: 255 if v < 128 else 0)
    box = dark.getbbox()
    if box is None:
        raise ValueError("the image has no dark pixels: no QR code in it")
    left, top, right, bottom = box
    run = 0
    while left + run < right and dark.getpixel((left + run, top)) == 255:
        run += 1
    size = run / _FINDER_MODULES
    if size <= 0:
        raise ValueError("no finder pattern at the top-left corner of the QR code")
    count = round((right - left) / size)
    if count < 21 or count > 177 or (count - 21) % 4 or abs((bottom - top) - (right - left)) > size:
        raise ValueError(f"the image does not hold an upright QR code ({right - left}x{bottom - top} px, "
                         f"modules of {size:.2f} px)")
    step_x, step_y = (right - left) / count, (bottom - top) / count
    return [[dark.getpixel((int(left + (col + 0.5) * step_x), int(top + (row + 0.5) * step_y))) == 255
             for col in range(count)]
            for row in range(count)]


def _with_quiet_zone(modules: Modules, border: int) -> Modules:
    width = len(modules[0]) + 2 * border if modules else 2 * border
    blank = [False] * width
    return ([list(blank) for _ in range(border)]
            + [[False] * border + list(row) + [False] * border for row in modules]
            + [list(blank) for _ in range(border)])


def half_block_text(modules: Modules, *, border: int = QUIET_ZONE, colour: bool = False) -> str:
    """The QR code as lines of half-block characters, two module rows per line, quiet zone included."""
    rows = _with_quiet_zone(modules, border)
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    lines = []
    for upper, lower in zip(rows[0::2], rows[1::2], strict=True):
        text = "".join(_CELLS[pair] for pair in zip(upper, lower, strict=True))
        lines.append(f"{_ANSI_START}{text}{_ANSI_END}" if colour else text)
    return "\n".join(lines) + "\n"


def modules_from_half_blocks(text: str, *, border: int = QUIET_ZONE) -> Modules:
    """The inverse of :func:`half_block_text`: the module matrix drawn in ``text`` (colours ignored)."""
    rows: Modules = []
    for line in _ANSI.sub("", text).splitlines():
        if not line:
            continue
        try:
            pairs = [_FROM_CELL[char] for char in line]
        except KeyError as exc:
            raise ValueError(f"not a half-block QR drawing: unexpected character {exc}") from None
        rows.append([upper for upper, _ in pairs])
        rows.append([lower for _, lower in pairs])
    width = len(rows[0]) - 2 * border if rows else 0
    symbol = [row[border:border + width] for row in rows[border:border + width]]
    if not symbol or any(len(row) != width for row in symbol):
        raise ValueError("the drawing is not a square QR code inside its quiet zone")
    return symbol


def image_from_modules(modules: Modules, *, box_size: int = 8, border: int = QUIET_ZONE) -> Image.Image:
    """A black-on-white image of a module matrix, as a camera would see it."""
    rows = _with_quiet_zone(modules, border)
    small = Image.new("L", (len(rows[0]), len(rows)), 255)
    small.putdata([0 if dark else 255 for row in rows for dark in row])
    return small.resize((small.width * box_size, small.height * box_size), Image.Resampling.NEAREST)


__all__ = ["QUIET_ZONE", "Modules", "half_block_text", "image_from_modules", "modules_from_half_blocks", "qr_modules"]

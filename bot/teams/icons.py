"""whoelse's Teams app icons, drawn as PNG with the standard library (zlib and struct, no imaging package).

Teams wants two: a full-colour 192x192 icon, and a 32x32 outline icon, white on a transparent background.
The picture is two people side by side: someone, and whoever else needs to know.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from functools import cache

COLOR_SIZE = 192
OUTLINE_SIZE = 32
ACCENT = "#4F46E5"
WHITE = (255, 255, 255)
# Each pixel is sampled on a grid (4x4 for the small icon, 2x2 for the large one), so edges are smooth.
SMALL_SAMPLES = 4
LARGE_SAMPLES = 2

Shape = Callable[[float, float], bool]


def _circle(cx: float, cy: float, r: float) -> Shape:
    return lambda x, y: (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def _shoulders(cx: float, top: float, rx: float, ry: float) -> Shape:
    # The upper half of an ellipse whose centre is its flat bottom edge.
    bottom = top + ry
    return lambda x, y: y <= bottom and ((x - cx) / rx) ** 2 + ((y - bottom) / ry) ** 2 <= 1


# The person in front, and the one behind with a thin gap around the one in front, so the two read as two.
FRONT: tuple[Shape, ...] = (_circle(0.38, 0.34, 0.13), _shoulders(0.38, 0.52, 0.24, 0.26))
FRONT_WITH_GAP: tuple[Shape, ...] = (_circle(0.38, 0.34, 0.17), _shoulders(0.38, 0.48, 0.28, 0.30))
BEHIND: tuple[Shape, ...] = (_circle(0.68, 0.40, 0.10), _shoulders(0.68, 0.55, 0.18, 0.20))


def _in_picture(u: float, v: float) -> bool:
    if any(shape(u, v) for shape in FRONT):
        return True
    return any(shape(u, v) for shape in BEHIND) and not any(shape(u, v) for shape in FRONT_WITH_GAP)


def _coverage(x: int, y: int, size: int, *, margin: float, samples: int) -> float:
    """How much of the pixel the picture covers, 0 to 1, with `margin` of the icon left empty around it."""
    inside = 0
    scale = 1 - 2 * margin
    for sx in range(samples):
        for sy in range(samples):
            u = ((x + (sx + 0.5) / samples) / size - margin) / scale
            v = ((y + (sy + 0.5) / samples) / size - margin) / scale
            inside += _in_picture(u, v)
    return inside / samples**2


def png(width: int, height: int, pixel: Callable[[int, int], tuple[int, int, int, int]]) -> bytes:
    """An 8-bit RGBA PNG (colour type 6), one unfiltered scanline per row."""
    rows = b"".join(
        b"\x00" + bytes(channel for x in range(width) for channel in pixel(x, y)) for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def _rgb(hex_color: str) -> tuple[int, int, int]:
    value = int(hex_color.removeprefix("#"), 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


@cache
def color_icon() -> bytes:
    """White people on the accent colour, edge to edge (Teams rounds the corners itself)."""
    background = _rgb(ACCENT)

    def pixel(x: int, y: int) -> tuple[int, int, int, int]:
        cover = _coverage(x, y, COLOR_SIZE, margin=0.16, samples=LARGE_SAMPLES)
        r, g, b = (round(w * cover + c * (1 - cover)) for w, c in zip(WHITE, background, strict=True))
        return r, g, b, 255

    return png(COLOR_SIZE, COLOR_SIZE, pixel)


@cache
def outline_icon() -> bytes:
    """White people on transparency: Teams tints it and shows it small, in the app bar and on messages."""

    def pixel(x: int, y: int) -> tuple[int, int, int, int]:
        return (*WHITE, round(255 * _coverage(x, y, OUTLINE_SIZE, margin=0.04, samples=SMALL_SAMPLES)))

    return png(OUTLINE_SIZE, OUTLINE_SIZE, pixel)

"""Locate the CJK font for labels, and fall back loudly when it is missing.

WenQuanYi Micro Hei (Debian ``fonts-wqy-microhei``) is TrueType, so both
Pillow and the PDF writer can embed it; Noto Sans CJK is CFF-flavoured
OpenType, which the PDF path cannot subset (docs/limits).  When the file is
missing, rendering still works with a built-in font and a
:class:`FontFallbackWarning` says that Chinese text will not show.
"""

from __future__ import annotations

import functools
import os
import warnings

from PIL import ImageFont

__all__ = ["DEFAULT_CJK_FONT", "FontFallbackWarning", "find_cjk_font", "pil_font"]

DEFAULT_CJK_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"

PilFont = ImageFont.FreeTypeFont | ImageFont.ImageFont


class FontFallbackWarning(UserWarning):
    """The CJK font file is missing; a built-in font without Chinese glyphs is used."""


def find_cjk_font(path: str | None = None) -> str | None:
    """Return ``path`` (default :data:`DEFAULT_CJK_FONT`) if it exists; else warn, return None."""
    path = path or DEFAULT_CJK_FONT
    if os.path.isfile(path):
        return path
    warnings.warn(
        f"CJK font {path!r} not found (install fonts-wqy-microhei); "
        "Chinese text falls back to a built-in font",
        FontFallbackWarning,
        stacklevel=2,
    )
    return None


@functools.lru_cache(maxsize=64)
def _truetype(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def pil_font(size_px: int, path: str | None = None) -> PilFont:
    """Return a Pillow font of ``size_px`` pixels: the CJK font, else Pillow's default (warns)."""
    found = find_cjk_font(path)
    if found is None:
        return ImageFont.load_default(size_px)
    return _truetype(found, size_px)

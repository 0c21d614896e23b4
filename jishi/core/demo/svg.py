"""Placeholder pictures for the demo, drawn as small SVG files (no network, no fonts needed).

Each picture is a gradient in its category's colours with a big emoji or one or two Chinese
characters and a short caption. The viewer's browser supplies the fonts.
"""

from html import escape

FONT = "'PingFang SC','Hiragino Sans GB','Microsoft YaHei','Noto Sans CJK SC',sans-serif"
EMOJI_FONT = "'Apple Color Emoji','Segoe UI Emoji','Noto Color Emoji',sans-serif"


def _is_emoji(glyph: str) -> bool:
    return any(ord(ch) >= 0x1F000 or 0x2600 <= ord(ch) <= 0x27BF for ch in glyph)


def _head(size: int, colors: tuple[str, str], angle: int, radius: int = 0) -> str:
    x2, y2 = ((1, 1), (0, 1), (1, 0))[angle % 3]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'width="{size}" height="{size}">'
        f'<defs><linearGradient id="g" x1="0" y1="0" x2="{x2}" y2="{y2}">'
        f'<stop offset="0" stop-color="{colors[0]}"/><stop offset="1" stop-color="{colors[1]}"/>'
        f"</linearGradient></defs>"
        f'<rect width="{size}" height="{size}" rx="{radius}" fill="url(#g)"/>'
    )


def _glyph(glyph: str, *, x: int, y: int, size: int, color: str) -> str:
    """An emoji as is, or Chinese characters in a white seal-like disc."""
    if _is_emoji(glyph):
        return (
            f'<text x="{x}" y="{y}" font-size="{size}" text-anchor="middle" '
            f'dominant-baseline="central" font-family="{EMOJI_FONT}">{escape(glyph)}</text>'
        )
    chars = len(glyph)
    font_size = int(size * (0.72 if chars == 1 else 0.5))
    return (
        f'<circle cx="{x}" cy="{y}" r="{int(size * 0.62)}" fill="#fff" fill-opacity=".92"/>'
        f'<text x="{x}" y="{y}" font-size="{font_size}" font-weight="700" fill="{color}" '
        f'text-anchor="middle" dominant-baseline="central" font-family="{FONT}">'
        f"{escape(glyph)}</text>"
    )


def _caption(text: str, *, x: int, y: int, size: int, opacity: str = "1") -> str:
    return (
        f'<text x="{x}" y="{y}" font-size="{size}" font-weight="700" fill="#fff" '
        f'fill-opacity="{opacity}" text-anchor="middle" font-family="{FONT}">'
        f"{escape(text)}</text>"
    )


def product_svg(
    *, glyph: str, name: str, colors: tuple[str, str], variant: int = 0, note: str = ""
) -> bytes:
    """A 600×600 product picture; ``variant`` 0 is the cover, 1 and 2 are detail shots."""
    size, mid = 600, 300
    parts = [_head(size, colors, variant)]
    if variant == 0:
        parts += [
            '<circle cx="500" cy="90" r="170" fill="#fff" fill-opacity=".13"/>',
            '<circle cx="70" cy="560" r="140" fill="#fff" fill-opacity=".1"/>',
            _glyph(glyph, x=mid, y=250, size=190, color=colors[1]),
            f'<rect y="450" width="{size}" height="150" fill="#000" fill-opacity=".14"/>',
            _caption(name, x=mid, y=540, size=56),
        ]
    else:
        parts += [
            '<rect x="40" y="40" width="520" height="520" rx="28" fill="none" stroke="#fff" '
            'stroke-opacity=".5" stroke-width="4"/>',
            _glyph(glyph, x=mid, y=220 if variant == 1 else 200, size=120, color=colors[1]),
            _caption(name, x=mid, y=400, size=48),
            _caption(note, x=mid, y=470, size=30, opacity=".85"),
        ]
    parts.append("</svg>")
    return "".join(parts).encode()


def logo_svg(*, text: str, colors: tuple[str, str]) -> bytes:
    """A 200×200 rounded shop logo with one or two characters."""
    font_size = 92 if len(text) == 1 else 64
    return (
        _head(200, colors, 0, radius=36)
        + '<circle cx="168" cy="30" r="52" fill="#fff" fill-opacity=".15"/>'
        + f'<text x="100" y="104" font-size="{font_size}" font-weight="800" fill="#fff" '
        f'text-anchor="middle" dominant-baseline="central" font-family="{FONT}">'
        f"{escape(text)}</text></svg>"
    ).encode()

"""The PDF's building blocks (reportlab): styles, escaped paragraphs, tables, charts, wrapped code."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import Image, Paragraph, Table, TableStyle

WIDTH = 17 * cm
STYLES = getSampleStyleSheet()
BODY = ParagraphStyle("body", parent=STYLES["BodyText"], fontSize=9, leading=12)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=8, leading=10, textColor=colors.HexColor("#5a6775"))
WARN = ParagraphStyle(
    "warn", parent=BODY, backColor=colors.HexColor("#fff4e5"), borderPadding=4, spaceBefore=4, spaceAfter=6
)
GOOD = ParagraphStyle("good", parent=WARN, backColor=colors.HexColor("#eaf5ec"))
CELL = ParagraphStyle("cell", parent=BODY, fontSize=7.5, leading=9)
ALARM = ParagraphStyle("alarm", parent=WARN, backColor=colors.HexColor("#fdecea"))
#: characters of a diff line that fit the page width in CODE; longer lines wrap with a "  " indent
DIFF_COLUMNS = 118


def wrap_lines(text: str, width: int = DIFF_COLUMNS) -> str:
    """Every line of `text` cut into pieces of at most `width` characters (continuations indented)."""
    out = []
    for line in text.splitlines():
        out.append(line[:width])
        rest = line[width:]
        while rest:
            out.append("  " + rest[: width - 2])
            rest = rest[width - 2 :]
    return "\n".join(out)


CODE = ParagraphStyle("code", parent=STYLES["Code"], fontSize=6.5, leading=8)


def para(text: str, style=BODY) -> Paragraph:
    return Paragraph(escape(str(text)), style)


def table(rows: list[list], widths: list[float] | None = None) -> Table:
    cells = [[c if isinstance(c, Paragraph) else str(c) for c in row] for row in rows]
    out = Table(cells, colWidths=widths, repeatRows=1)
    out.setStyle(
        TableStyle(
            [
                ("FONTSIZE", (0, 0), (-1, -1), 7.5),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f6")),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#dde3ea")),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return out


def image(png: bytes, max_width: float = WIDTH) -> Image:
    w, h = ImageReader(io.BytesIO(png)).getSize()
    scale = min(max_width / w, 1.0 * cm * 12 / h, 1.0)
    return Image(io.BytesIO(png), width=w * scale, height=h * scale)

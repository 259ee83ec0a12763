"""Server-rendered charts: the geometry of horizontal bar charts, drawn as SVG by the
templates (no JavaScript, no chart library; each bar is a link to the list it counts)."""

from __future__ import annotations

from dataclasses import dataclass

ROW_HEIGHT = 28
BAR_HEIGHT = 18
LABEL_WIDTH = 170
BAR_AREA = 260


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    href: str
    tone: str  # a CSS class: ok, warn, bad, info
    y: int = 0
    width: float = 0.0


@dataclass(frozen=True)
class Segment:
    value: int
    tone: str
    x: float
    width: float
    href: str


@dataclass(frozen=True)
class StackedBar:
    label: str
    total: int
    segments: tuple[Segment, ...]
    y: int


def bar_chart(bars: list[Bar]) -> tuple[list[Bar], int]:
    """Each bar placed and scaled against the largest; the chart's height."""
    largest = max((b.value for b in bars), default=0) or 1
    placed = [
        Bar(b.label, b.value, b.href, b.tone, y=index * ROW_HEIGHT,
            width=round(BAR_AREA * b.value / largest, 1))
        for index, b in enumerate(bars)
    ]  # fmt: skip
    return placed, len(bars) * ROW_HEIGHT


def stacked_chart(rows: list[tuple[str, list[tuple[int, str, str]]]]
                  ) -> tuple[list[StackedBar], int]:  # fmt: skip
    """Rows of (label, [(value, tone, href), ...]), all against the largest row's total."""
    largest = max((sum(v for v, _, _ in parts) for _, parts in rows), default=0) or 1
    placed = []
    for index, (label, parts) in enumerate(rows):
        x, segments = 0.0, []
        for value, tone, href in parts:
            width = round(BAR_AREA * value / largest, 1)
            segments.append(Segment(value, tone, x, width, href))
            x += width
        placed.append(StackedBar(label, sum(v for v, _, _ in parts), tuple(segments),
                                 index * ROW_HEIGHT))  # fmt: skip
    return placed, len(rows) * ROW_HEIGHT

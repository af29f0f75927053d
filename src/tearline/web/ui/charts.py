"""Server-rendered SVG charts: no JavaScript and no chart library, so a page is one response.

Every chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` summarising it, each bar
has its own ``<title>`` (shown as a tooltip), and colours come from CSS classes (``s1``, ``s2``)
chosen to stay apart for colour-blind readers. Callers also show the numbers as a table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import count

from markupsafe import Markup, escape

_ids = count(1)


def _nice_max(v: float) -> int:
    """The top of the y axis: four equal steps of 1, 2 or 5 times a power of ten."""
    if v <= 4:
        return 4
    raw = v / 4
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if raw <= m * mag)
    return int(step * 4)


def _open(width: int, height: int, title: str, desc: str) -> tuple[str, str]:
    n = next(_ids)
    head = (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="ct{n} cd{n}" preserveAspectRatio="xMinYMin meet">'
        f'<title id="ct{n}">{escape(title)}</title><desc id="cd{n}">{escape(desc)}</desc>'
    )
    return head, "</svg>"


def bars(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    title: str,
    width: int = 640,
    height: int = 220,
    label_every: int = 1,
) -> Markup:
    """Vertical bars, one group per label, one bar per series (at most 2 series)."""
    left, right, top, bottom = 44, 8, 22, 34
    top_v = _nice_max(max((max(vals, default=0) for _, vals in series), default=0))
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(labels), 1)
    group_w = plot_w / n
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1.0)
    totals = ", ".join(f"{name}: {sum(vals)} in all" for name, vals in series)
    head, tail = _open(width, height, title, f"{len(labels)} periods; {totals}")
    out = [head]
    for i in range(5):  # grid lines and y labels
        v = top_v * i / 4
        y = top + plot_h - plot_h * i / 4
        out.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{int(v)}</text>')
    for si, (name, vals) in enumerate(series):
        for i, v in enumerate(vals):
            h = plot_h * v / top_v
            x = left + i * group_w + group_w * 0.1 + si * bar_w
            y = top + plot_h - h
            out.append(
                f'<rect class="s{si + 1}" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
                f"<title>{escape(labels[i])}: {escape(name)} {v}</title></rect>"
            )
    for i, lab in enumerate(labels):
        if i % label_every == 0 or (i == len(labels) - 1 and i % label_every > label_every // 2):
            x = left + i * group_w + group_w / 2
            out.append(
                f'<text class="tick" x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle">{escape(lab)}</text>'
            )
    lx = left
    for si, (name, _) in enumerate(series):  # legend
        out.append(f'<rect class="s{si + 1}" x="{lx}" y="4" width="12" height="12"/>')
        out.append(f'<text class="legend" x="{lx + 16}" y="14">{escape(name)}</text>')
        lx += 24 + 8 * len(name)
    out.append(tail)
    return Markup("".join(out))


def hbars(
    items: Sequence[tuple[str, int]], *, title: str, width: int = 480, unit: str = "", max_items: int = 12
) -> Markup:
    """Horizontal bars, largest first as given (for counts by topic, classification, ...)."""
    items = list(items)[:max_items]
    row, left, right = 22, 130, 56
    height = max(row * len(items) + 8, 30)
    top_v = max((v for _, v in items), default=0) or 1
    desc = "; ".join(f"{k}: {v}" for k, v in items) or "nothing to show"
    head, tail = _open(width, height, title, desc)
    out = [head]
    for i, (k, v) in enumerate(items):
        y = 4 + i * row
        w = (width - left - right) * v / top_v
        out.append(f'<text class="tick" x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(k[:20])}</text>')
        out.append(
            f'<rect class="s1" x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 6}">'
            f"<title>{escape(k)}: {v}{escape(unit)}</title></rect>"
        )
        out.append(f'<text class="tick" x="{left + w + 4:.1f}" y="{y + 14}">{v}</text>')
    if not items:
        out.append(f'<text class="tick" x="8" y="20">{escape("nothing to show")}</text>')
    out.append(tail)
    return Markup("".join(out))


def balance(items: Sequence[tuple[str, int, int]], *, title: str, width: int = 560) -> Markup:
    """Reciprocity: per partner, released to it (left, ``s1``) against received from it (right, ``s2``)."""
    row, label_w = 24, 60
    height = max(row * len(items) + 30, 50)
    mid = label_w + (width - label_w) / 2
    half = (width - label_w) / 2 - 44
    top_v = max((max(a, b) for _, a, b in items), default=0) or 1
    desc = "; ".join(f"{p}: released {a}, received {b}" for p, a, b in items) or "no flows yet"
    head, tail = _open(width, height, title, desc)
    out = [head]
    out.append(f'<text class="legend" x="{mid - 8}" y="14" text-anchor="end">released to ←</text>')
    out.append(f'<text class="legend" x="{mid + 8}" y="14">→ received from</text>')
    for i, (p, sent, got) in enumerate(items):
        y = 24 + i * row
        ws, wg = half * sent / top_v, half * got / top_v
        out.append(f'<text class="tick" x="4" y="{y + 15}">{escape(p)}</text>')
        out.append(
            f'<rect class="s1" x="{mid - ws:.1f}" y="{y + 3}" width="{ws:.1f}" height="{row - 8}">'
            f"<title>{escape(p)}: released {sent}</title></rect>"
        )
        out.append(
            f'<rect class="s2" x="{mid:.1f}" y="{y + 3}" width="{wg:.1f}" height="{row - 8}">'
            f"<title>{escape(p)}: received {got}</title></rect>"
        )
        out.append(f'<text class="tick" x="{mid - ws - 4:.1f}" y="{y + 15}" text-anchor="end">{sent}</text>')
        out.append(f'<text class="tick" x="{mid + wg + 4:.1f}" y="{y + 15}">{got}</text>')
    out.append(f'<line class="axis" x1="{mid}" x2="{mid}" y1="20" y2="{height - 4}"/>')
    out.append(tail)
    return Markup("".join(out))

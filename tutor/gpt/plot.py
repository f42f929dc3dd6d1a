"""A loss curve as a small standalone SVG (no plotting library needed)."""

from __future__ import annotations

from html import escape
from typing import Any, Sequence

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 30, 40
SERIES = (("train_loss", "#1f77b4", "train"), ("val_loss", "#d62728", "val"))


def loss_curve_svg(rows: Sequence[dict[str, Any]], *, title: str = "loss") -> str:
    """Train loss (every logged step) and val loss (every eval) against the step."""
    points = {key: [(r["step"], r[key]) for r in rows if r.get(key) is not None] for key, _, _ in SERIES}
    # The val rows also carry an eval estimate of the train loss; plot the logged one only.
    points["train_loss"] = [(r["step"], r["train_loss"]) for r in rows if r.get("val_loss") is None] or points[
        "train_loss"
    ]
    values = [v for series in points.values() for _, v in series]
    steps = [s for series in points.values() for s, _ in series]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    if not values:
        out.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no data</text></svg>')
        return "\n".join(out) + "\n"
    x0, x1 = min(steps), max(steps) if max(steps) > min(steps) else min(steps) + 1
    y0, y1 = min(values), max(values) if max(values) > min(values) else min(values) + 1
    pad = 0.05 * (y1 - y0)
    y0, y1 = y0 - pad, y1 + pad
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(step: float) -> float:
        return LEFT + plot_w * (step - x0) / (x1 - x0)

    def sy(value: float) -> float:
        return TOP + plot_h * (1 - (value - y0) / (y1 - y0))

    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>')
    for i in range(5):  # grid lines with labels
        value = y0 + (y1 - y0) * i / 4
        step = x0 + (x1 - x0) * i / 4
        out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{sy(value):.1f}" y2="{sy(value):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{LEFT - 6}" y="{sy(value) + 4:.1f}" text-anchor="end">{value:.2f}</text>')
        out.append(f'<text x="{sx(step):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{step:.0f}</text>')
    out.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 6}" text-anchor="middle">step</text>')
    for n, (key, colour, label) in enumerate(SERIES):
        series = points[key]
        if not series:
            continue
        path = " ".join(f"{sx(s):.1f},{sy(v):.1f}" for s, v in series)
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{path}"/>')
        if key == "val_loss":
            out.extend(f'<circle cx="{sx(s):.1f}" cy="{sy(v):.1f}" r="2.5" fill="{colour}"/>' for s, v in series)
        ly = TOP + 14 + 16 * n
        out.append(f'<line x1="{WIDTH - RIGHT - 90}" x2="{WIDTH - RIGHT - 70}" y1="{ly - 4}" y2="{ly - 4}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{WIDTH - RIGHT - 64}" y="{ly}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"

#!/usr/bin/env python3
"""Draws fleet_scale.py's results: rollout time and orchestrator memory
against the number of agents, one line per number of orchestrators, as an
SVG (no plotting library needed).

Usage: bench/fleet_plot.py OUT.svg RESULT.json...
"""

import json
import math
import sys

WIDTH, HEIGHT = 800, 330
PANEL_W, PANEL_H = 300, 200
LEFT, TOP = 60, 40
COLOURS = ["#1f6feb", "#d1242f", "#1a7f37"]


def load(paths):
    runs = []
    for path in paths:
        with open(path) as f:
            r = json.load(f)
        if r.get("fault"):
            continue
        runs.append({
            "agents": r["agents"],
            "orchestrators": r["orchestrators"],
            "rollout_s": r["deployment"]["total_s"],
            "rss_mb": max(r["orchestrator_rss_mb_max"].values()),
        })
    return runs


def panel(x0, title, unit, runs, key, goal=None):
    out = []
    xs = sorted({r["agents"] for r in runs})
    lo, hi = math.log10(min(xs)), math.log10(max(xs))
    top = max([r[key] for r in runs] + ([goal] if goal else [])) * 1.15

    def px(agents):
        return x0 + (math.log10(agents) - lo) / ((hi - lo) or 1) * PANEL_W

    def py(v):
        return TOP + PANEL_H - v / top * PANEL_H

    out.append(f'<text x="{x0 + PANEL_W / 2}" y="{TOP - 18}" text-anchor="middle" '
               f'font-weight="bold">{title}</text>')
    out.append(f'<line x1="{x0}" y1="{TOP + PANEL_H}" x2="{x0 + PANEL_W}" y2="{TOP + PANEL_H}" '
               'stroke="#555"/>')
    out.append(f'<line x1="{x0}" y1="{TOP}" x2="{x0}" y2="{TOP + PANEL_H}" stroke="#555"/>')
    for a in xs:
        out.append(f'<text x="{px(a)}" y="{TOP + PANEL_H + 16}" text-anchor="middle">{a:,}</text>')
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500) if top / s <= 6)
    for i in range(int(top // step) + 1):
        v = i * step
        out.append(f'<text x="{x0 - 6}" y="{py(v) + 4}" text-anchor="end">{v:.0f}</text>')
        out.append(f'<line x1="{x0}" y1="{py(v)}" x2="{x0 + PANEL_W}" y2="{py(v)}" '
                   'stroke="#ddd"/>')
    out.append(f'<text x="{x0 + PANEL_W / 2}" y="{TOP + PANEL_H + 34}" '
               'text-anchor="middle">agents</text>')
    out.append(f'<text x="{x0 - 44}" y="{TOP + PANEL_H / 2}" text-anchor="middle" '
               f'transform="rotate(-90 {x0 - 44} {TOP + PANEL_H / 2})">{unit}</text>')
    if goal:
        out.append(f'<line x1="{x0}" y1="{py(goal)}" x2="{x0 + PANEL_W}" y2="{py(goal)}" '
                   'stroke="#999" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{x0 + PANEL_W - 2}" y="{py(goal) - 4}" text-anchor="end" '
                   f'fill="#777">goal {goal:g}</text>')
    for i, n in enumerate(sorted({r["orchestrators"] for r in runs})):
        line = sorted((r["agents"], r[key]) for r in runs if r["orchestrators"] == n)
        colour = COLOURS[i % len(COLOURS)]
        points = " ".join(f"{px(a):.1f},{py(v):.1f}" for a, v in line)
        out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for a, v in line:
            out.append(f'<circle cx="{px(a):.1f}" cy="{py(v):.1f}" r="3" fill="{colour}"/>')
        out.append(f'<text x="{x0 + 110 * i}" y="{TOP + PANEL_H + 56}" fill="{colour}">'
                   f'{n} orchestrator{"s" if n > 1 else ""}</text>')
    return out


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    runs = load(sys.argv[2:])
    body = ['<svg xmlns="http://www.w3.org/2000/svg" '
            f'width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">',
            f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>']
    start = max(r for r in [json.load(open(p)).get("start_time_s", 2) for p in sys.argv[2:]])
    body += panel(LEFT, "rollout (10 batches), s", "seconds", runs, "rollout_s",
                  goal=10 * (start + 1))
    body += panel(LEFT + PANEL_W + 90, "orchestrator memory (max RSS), MB", "MB", runs,
                  "rss_mb", goal=300)
    body.append("</svg>")
    with open(sys.argv[1], "w") as f:
        f.write("\n".join(body) + "\n")


if __name__ == "__main__":
    main()

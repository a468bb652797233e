"""The governance committee's scorecard: quality scores per source and per dimension, with their
trend over runs as charts, beside the Data Docs. One self-contained HTML page (inline SVG, no
scripts, no network).

A score is the mean pass rate of the rules in the group (each rule counts once, whatever its
table's size), in percent. ``python -m expectations.scorecard`` writes it from the results table.
"""

from __future__ import annotations

import html
import json
import sys
from collections import defaultdict
from pathlib import Path

from expectations import docs, results

MAX_RUNS = 30
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")


def scorecard_path() -> Path:
    return docs.docs_dir().parent / "quality_scorecard.html"


def scores(rows: list[dict], by: str) -> dict[str, dict[str, float]]:
    """run_id -> {group -> score}, runs in time order (the last MAX_RUNS)."""
    first_seen: dict[str, object] = {}
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows:
        first_seen[r["run_id"]] = min(first_seen.get(r["run_id"], r["validated_at"]), r["validated_at"])
        groups[(r["run_id"], r[by])].append(r["pass_rate"])
    runs = sorted(first_seen, key=lambda run: first_seen[run])[-MAX_RUNS:]
    return {run: {g: 100.0 * sum(v) / len(v) for (rr, g), v in sorted(groups.items()) if rr == run} for run in runs}


def line_chart(series: dict[str, dict[str, float]], title: str, width: int = 560, height: int = 200) -> str:
    """An SVG line chart: x = runs in order, y = score (%), one line per group."""
    runs = list(series)
    groups = sorted({g for per_run in series.values() for g in per_run})
    values = [v for per_run in series.values() for v in per_run.values()]
    low = min([*values, 100.0])
    y_min = max(0.0, min(90.0, 5 * int(low // 5) - 5 if low < 100 else 90.0))
    left, right, top, bottom = 44, 130, 24, 26
    pw, ph = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (pw * i / (len(runs) - 1) if len(runs) > 1 else pw / 2)

    def y(v: float) -> float:
        return top + ph * (100.0 - v) / (100.0 - y_min)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{html.escape(title)}">',
        f'<text x="{left}" y="14" font-size="13" font-weight="bold">{html.escape(title)}</text>',
    ]
    for tick in (y_min, (y_min + 100) / 2, 100.0):
        parts.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#ddd"/>'
            f'<text x="{left - 4}" y="{y(tick) + 4:.1f}" font-size="10" text-anchor="end">{tick:.0f}%</text>'
        )
    parts.append(f'<text x="{left}" y="{height - 6}" font-size="10">{len(runs)} run(s), oldest to latest</text>')
    for n, g in enumerate(groups):
        color = PALETTE[n % len(PALETTE)]
        pts = [(x(i), y(series[run][g]), run, series[run][g]) for i, run in enumerate(runs) if g in series[run]]
        if len(pts) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in pts)
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
        for px, py, run, v in pts:
            parts.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}"><title>{html.escape(g)} '
                f"{v:.2f}% ({html.escape(run)})</title></circle>"
            )
        parts.append(
            f'<rect x="{left + pw + 10}" y="{top + 14 * n}" width="10" height="10" fill="{color}"/>'
            f'<text x="{left + pw + 24}" y="{top + 14 * n + 9}" font-size="11">{html.escape(g)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render(rows: list[dict], docs_href: str = "data_docs/index.html") -> str:
    """The scorecard page from results-table rows (dicts)."""
    if not rows:
        return (
            "<!doctype html><html><body><h1>Data quality scorecard</h1><p>No validation has run yet.</p></body></html>"
        )
    by_source, by_dimension = scores(rows, "source"), scores(rows, "dimension")
    latest = list(by_source)[-1]
    latest_rows = sorted((r for r in rows if r["run_id"] == latest), key=lambda r: (r["pass_rate"], r["check_name"]))
    failing = [r for r in latest_rows if not r["passed"] or r["rows_failed"]]

    def cells(per: dict[str, float]) -> str:
        return "".join(f"<tr><td>{html.escape(g)}</td><td class='num'>{v:.2f}%</td></tr>" for g, v in per.items())

    rule_rows = "".join(
        f"<tr class='{'bad' if not r['passed'] else 'warn'}'><td>{html.escape(r['layer'])}</td>"
        f"<td>{html.escape(r['table_name'])}</td><td>{html.escape(r['rule'])} ({html.escape(r['columns'])})</td>"
        f"<td>{html.escape(r['dimension'])}</td><td>{html.escape(r['severity'])}</td>"
        f"<td class='num'>{r['rows_failed']:,}</td><td class='num'>{r['rows_checked']:,}</td>"
        f"<td class='num'>{100 * r['pass_rate']:.2f}%</td><td class='num'>{100 * r['threshold']:.0f}%</td>"
        f"<td>{html.escape(r['outcome'])}</td></tr>"
        for r in failing
    )
    n_checks = len(latest_rows)
    passed = sum(r["passed"] for r in latest_rows)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Data quality scorecard</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 3px 8px; }} th {{ background: #f3f3f3; }}
.num {{ text-align: right; }} .bad {{ background: #fde2e2; }} .warn {{ background: #fff6d6; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 2em; }}
</style></head><body>
<h1>Data quality scorecard</h1>
<p>Latest run <b>{html.escape(latest)}</b>: {passed} of {n_checks} checks at or above their threshold.
Scores are mean pass rates of the rules in each group. Rule by rule: <a href="{html.escape(docs_href)}">Data Docs</a>.</p>
<div class="charts">
<div>{line_chart(by_source, "Score by source")}<table><tr><th>source</th><th>score (latest)</th></tr>{cells(by_source[latest])}</table></div>
<div>{line_chart(by_dimension, "Score by dimension")}<table><tr><th>dimension</th><th>score (latest)</th></tr>{cells(by_dimension[latest])}</table></div>
</div>
<h2>Rules with failing rows in the latest run</h2>
<table><tr><th>layer</th><th>table</th><th>rule</th><th>dimension</th><th>severity</th><th>rows failed</th>
<th>rows checked</th><th>pass rate</th><th>threshold</th><th>outcome</th></tr>{rule_rows or "<tr><td colspan=10>none</td></tr>"}</table>
</body></html>"""


def build_report(spark=None, quiet: bool = False) -> dict:
    """Scorecard from the results table, Data Docs made offline; paths and the latest scores."""
    if spark is None:
        from core.session import get_spark

        spark = get_spark("quality-report")
    results.ensure_tables(spark)
    rows = [r.asDict() for r in spark.table(results.results_table()).collect()]
    path = scorecard_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    href = (
        Path(docs.docs_index()).relative_to(path.parent)
        if docs.docs_index().is_relative_to(path.parent)
        else docs.docs_index()
    )
    path.write_text(render(rows, str(href)), encoding="utf-8")
    pages = docs.make_offline()
    by_source = scores(rows, "source") if rows else {}
    latest = by_source[list(by_source)[-1]] if by_source else {}
    if not quiet:
        print(
            f"quality report: scorecard {path} ({len(by_source)} runs), Data Docs {docs.docs_index()} ({pages} pages)"
        )
    return {
        "scorecard": str(path),
        "data_docs": str(docs.docs_index()),
        "runs": len(by_source),
        "latest_scores": {k: round(v, 2) for k, v in latest.items()},
    }


if __name__ == "__main__":
    print(json.dumps(build_report(), indent=1))
    sys.exit(0)

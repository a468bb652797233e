"""The governance committee's scorecard: quality scores per source and per dimension, with their
trend over runs as charts, beside the Data Docs; each source's owners (IT for its collection, a
business department for its use, from the contracts); the operations KPIs day by day against
their targets (gold's KPI history); and the prediction models' held-out figures beside the rules
they replace, with the drift of their scores. One self-contained HTML page (inline SVG, no scripts, no
network).

A score is the mean pass rate of the rules in the group (each rule counts once, whatever its
table's size), in percent. ``python -m expectations.scorecard`` writes it from the results table.
"""

from __future__ import annotations

import html
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from core.settings import get_settings
from expectations import docs, results
from schemas.contracts import load_contracts

MAX_RUNS = 30
KPI_DAYS = 90  # the KPI charts' span
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
    """An SVG line chart of scores: x = runs in order, y = score (%), one line per group."""
    groups = sorted({g for per_run in series.values() for g in per_run})
    values = [v for per_run in series.values() for v in per_run.values()]
    low = min([*values, 100.0])
    y_min = max(0.0, min(90.0, 5 * int(low // 5) - 5 if low < 100 else 90.0))
    lines = [
        (g, {run: per_run[g] for run, per_run in series.items() if g in per_run}, PALETTE[n % len(PALETTE)], False)
        for n, g in enumerate(groups)
    ]
    return _chart(
        title,
        list(series),
        lines,
        (y_min, 100.0),
        (lambda v: f"{v:.0f}%", lambda v: f"{v:.2f}%"),
        f"{len(series)} run(s), oldest to latest",
        width,
        height,
    )


def _chart(
    title: str,
    xs: list[str],
    lines: list[tuple[str, dict[str, float], str, bool]],
    y_range: tuple[float, float],
    formats: tuple[Callable[[float], str], Callable[[float], str]],
    footer: str,
    width: int = 560,
    height: int = 200,
) -> str:
    """An SVG line chart: x = ``xs`` in order; each line (name, {x: y}, colour, dashed) with a
    dot per point (none on a dashed one); ``formats``: the axis' ticks and the dots' values."""
    low, high = y_range
    tick, value = formats
    left, right, top, bottom = 44, 130, 24, 26
    pw, ph = width - left - right, height - top - bottom

    def x(i: int) -> float:
        return left + (pw * i / (len(xs) - 1) if len(xs) > 1 else pw / 2)

    def y(v: float) -> float:
        return top + ph * (high - v) / ((high - low) or 1.0)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{html.escape(title)}">',
        f'<text x="{left}" y="14" font-size="13" font-weight="bold">{html.escape(title)}</text>',
    ]
    for t in (low, (low + high) / 2, high):
        parts.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#ddd"/>'
            f'<text x="{left - 4}" y="{y(t) + 4:.1f}" font-size="10" text-anchor="end">{html.escape(tick(t))}</text>'
        )
    parts.append(f'<text x="{left}" y="{height - 6}" font-size="10">{html.escape(footer)}</text>')
    for n, (name, points, color, dashed) in enumerate(lines):
        pts = [(x(i), y(points[k]), k, points[k]) for i, k in enumerate(xs) if points.get(k) is not None]
        if len(pts) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in pts)
            dash = ' stroke-dasharray="5,3"' if dashed else ""
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="{path}"/>')
        for px, py, k, v in [] if dashed else pts:
            parts.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}"><title>{html.escape(name)} '
                f"{html.escape(value(v))} ({html.escape(k)})</title></circle>"
            )
        parts.append(
            f'<rect x="{left + pw + 10}" y="{top + 14 * n}" width="10" height="10" fill="{color}"/>'
            f'<text x="{left + pw + 24}" y="{top + 14 * n + 9}" font-size="11">{html.escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


# --- operations KPIs -----------------------------------------------------------------------------

_KPI_FORMATS: dict[str, Callable[[float], str]] = {
    "share": lambda v: f"{100 * v:.1f}%",
    "minutes": lambda v: f"{v:.0f} min",
}


def _kpi_format(unit: str) -> Callable[[float], str]:
    return _KPI_FORMATS.get(unit, lambda v: f"{v:.2f}")


def kpi_chart(kpi: str, days: list[dict]) -> str:
    """One KPI day by day (history rows, oldest first) with its target as a dashed line."""
    xs = [str(d["as_of_date"]) for d in days]
    value = {x: d["kpi_value"] for x, d in zip(xs, days, strict=True)}
    target = {x: d["target"] for x, d in zip(xs, days, strict=True)}
    seen = [v for v in [*value.values(), *target.values()] if v is not None] or [0.0]
    pad = (max(seen) - min(seen)) * 0.1 or abs(max(seen)) * 0.05 or 0.01
    low, high = min(seen) - pad, max(seen) + pad
    unit = days[-1]["unit"]
    if unit == "share":
        low, high = max(0.0, low), min(1.0, high)
    fmt = _kpi_format(unit)
    lines = [("value", value, PALETTE[0], False)]
    if any(v is not None for v in target.values()):
        lines.append((f"target ({days[-1]['direction'].replace('_', ' ')})", target, PALETTE[1], True))
    return _chart(kpi, xs, lines, (low, high), (fmt, fmt), f"{len(xs)} day(s), {xs[0]} to {xs[-1]}")


def kpi_section(days: list[dict], months: list[dict]) -> str:
    """Each KPI's chart over the last KPI_DAYS days of the history, then a table of the latest
    day and month (to date) against their targets."""
    if not days:
        return "<p>No KPI history yet (the daily schedule writes it).</p>"
    by_kpi: dict[str, list[dict]] = defaultdict(list)
    for d in sorted(days, key=lambda d: d["as_of_date"]):
        by_kpi[d["kpi"]].append(d)
    latest_month = {m["kpi"]: m for m in sorted(months, key=lambda m: m["month_start"])}

    def cells(row: dict | None) -> str:
        if row is None:
            return "<td></td>" * 3
        fmt = _kpi_format(row["unit"])
        met = {True: ("meets", ""), False: ("misses", " class='bad'"), None: ("", "")}[row["meets_target"]]
        return (
            f"<td class='num'>{'' if row['kpi_value'] is None else fmt(row['kpi_value'])}</td>"
            f"<td class='num'>{'' if row['target'] is None else fmt(row['target'])}</td><td{met[1]}>{met[0]}</td>"
        )

    table = "".join(
        f"<tr><td>{html.escape(kpi)}</td><td>{html.escape(rows[-1]['direction'] or 'information')}</td>"
        f"{cells(rows[-1])}{cells(latest_month.get(kpi))}</tr>"
        for kpi, rows in by_kpi.items()
    )
    month, month_label = max(months, key=lambda m: m["month_start"], default=None), "month"
    if month:
        status = "complete" if month["is_month_complete"] else f"to {month['as_of_date']}"
        month_label = f"month {month['month_start']:%Y-%m} ({status})"
    charts = "".join(f"<div>{kpi_chart(kpi, rows[-KPI_DAYS:])}</div>" for kpi, rows in by_kpi.items())
    latest_day = by_kpi[next(iter(by_kpi))][-1]["as_of_date"]
    return (
        f'<div class="charts">{charts}</div>'
        f"<table><tr><th>KPI</th><th>direction</th><th>{latest_day}</th><th>target</th><th></th>"
        f"<th>{html.escape(month_label)}</th><th>target</th><th></th></tr>{table}</table>"
    )


# --- models ------------------------------------------------------------------------------------

# model -> (metric in the run's held-out figures, the rule's figure it is shown against, label)
MODEL_FIGURES = {
    "churn": [
        ("roc_auc", "roc_auc", "ROC AUC"),
        ("top_decile_precision", "precision", "top-decile precision (rule: its flagged users)"),
    ],
    "cell_faults": [
        ("recall", "recall", "faults caught 1-6 h ahead"),
        ("precision", "precision", "alerts followed by a fault"),
    ],
}
PSI_DRIFTED = 0.25


def models_section(runs: Sequence[dict], scoring: Sequence[dict]) -> str:
    """Each model's held-out figures run by run beside the rule it replaces (dashed), the
    table of runs with the promotion decision, and the score distribution's drift (PSI of each
    scoring run against the held-out scores of the model it used)."""
    if not runs:
        return "<p>No model trained yet (the weekly lakehouse_models DAG trains them).</p>"
    charts, tables = [], []
    for model in sorted({r["model"] for r in runs}):
        mine = sorted((r for r in runs if r["model"] == model), key=lambda r: r["trained_at"])
        xs = [r["version"] for r in mine]
        for n, (metric, rule, label) in enumerate(MODEL_FIGURES.get(model, [])):
            colour = PALETTE[n % len(PALETTE)]
            lines = [
                ("model", {x: r["metrics"].get(metric) for x, r in zip(xs, mine, strict=True)}, colour, False),
                ("rule", {x: r["baseline_metrics"].get(rule) for x, r in zip(xs, mine, strict=True)}, colour, True),
            ]
            charts.append(
                _chart(
                    f"{model}: {label}",
                    xs,
                    lines,
                    (0.0, 1.0),
                    (lambda v: f"{v:.1f}", lambda v: f"{v:.3f}"),
                    f"{len(xs)} run(s) by version, held-out period",
                )
            )
        figures = [m for m, _, _ in MODEL_FIGURES.get(model, [])]
        body = "".join(
            f"<tr{'' if r['promoted'] else ' class=warn'}><td>{html.escape(r['version'])}</td>"
            f"<td>{html.escape(r['held_out'])}</td>"
            + "".join(f"<td class='num'>{_figure(r['metrics'].get(m))}</td>" for m in figures)
            + "".join(
                f"<td class='num'>{_figure(r['baseline_metrics'].get(b))}</td>"
                for _, b, _ in MODEL_FIGURES.get(model, [])
            )
            + f"<td>{html.escape(r['decision'])}</td><td class='num'>{r['train_seconds']:.0f}</td>"
            f"<td>{html.escape(', '.join(f'{t} v{v}' for t, v in sorted(r['inputs'].items())))}</td></tr>"
            for r in reversed(mine)
        )
        heads = "".join(f"<th>{html.escape(m)}</th>" for m in figures) + "".join(
            f"<th>rule {html.escape(b)}</th>" for _, b, _ in MODEL_FIGURES.get(model, [])
        )
        tables.append(
            f"<h3>{html.escape(model)}</h3><table><tr><th>version</th><th>held out</th>{heads}<th>decision</th>"
            f"<th>train s</th><th>inputs (Delta versions read)</th></tr>{body}</table>"
        )
    drift = ""
    if scoring:
        ordered = sorted(scoring, key=lambda r: r["scored_at"])[-MAX_RUNS * 4 :]
        xs = [f"{r['scored_at']:%Y-%m-%d %H:%M}" for r in ordered]
        lines = [
            (model, {x: r["psi"] for x, r in zip(xs, ordered, strict=True) if r["model"] == model}, PALETTE[n], False)
            for n, model in enumerate(sorted({r["model"] for r in ordered}))
        ]
        lines.append(("drifted", dict.fromkeys(xs, PSI_DRIFTED), PALETTE[1], True))
        high = max([PSI_DRIFTED * 1.2, *(r["psi"] for r in ordered if r["psi"] is not None)])
        drift = _chart(
            "score drift (PSI vs the model's held-out scores)",
            xs,
            lines,
            (0.0, high),
            (lambda v: f"{v:.2f}", lambda v: f"{v:.3f}"),
            f"{len(xs)} scoring run(s), oldest to latest",
        )
    return f'<div class="charts">{"".join(f"<div>{c}</div>" for c in [*charts, drift] if c)}</div>{"".join(tables)}'


def _figure(v: float | None) -> str:
    return "" if v is None or v != v else f"{v:.3f}"


def owners_table(latest_scores: dict[str, float]) -> str:
    """Each source entity (a contract) with who collects it and who uses it, and its source's
    latest score."""
    rows = "".join(
        f"<tr><td>{html.escape(c.source)}</td><td>{html.escape(c.qualified_name)}</td>"
        f"<td>{html.escape(c.owners[0])}</td><td>{html.escape(c.owners[1])}</td>"
        f"<td class='num'>{'' if c.source not in latest_scores else f'{latest_scores[c.source]:.2f}%'}</td></tr>"
        for c in load_contracts()
    )
    return (
        "<table><tr><th>source</th><th>table</th><th>collection (IT)</th><th>use (business)</th>"
        f"<th>source score (latest)</th></tr>{rows}</table>"
    )


def render(
    rows: list[dict],
    docs_href: str = "data_docs/index.html",
    kpi_days: Sequence[dict] = (),
    kpi_months: Sequence[dict] = (),
    model_runs: Sequence[dict] = (),
    model_scoring: Sequence[dict] = (),
) -> str:
    """The scorecard page from results-table rows (dicts), the KPI history's day and month rows
    (dicts of gold.fct_operations_kpis_history and fct_operations_kpis_monthly) and the models'
    runs and scoring runs (quality.model_runs, quality.model_scoring)."""
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
<h2>Sources and their owners</h2>
{owners_table(by_source[latest])}
<h2>Rules with failing rows in the latest run</h2>
<table><tr><th>layer</th><th>table</th><th>rule</th><th>dimension</th><th>severity</th><th>rows failed</th>
<th>rows checked</th><th>pass rate</th><th>threshold</th><th>outcome</th></tr>{rule_rows or "<tr><td colspan=10>none</td></tr>"}</table>
<h2>Operations KPIs against their targets</h2>
{kpi_section(list(kpi_days), list(kpi_months))}
<h2>Predictions: models against the rules they replace</h2>
{models_section(model_runs, model_scoring)}
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
    path.write_text(
        render(
            rows,
            str(href),
            _gold_rows(spark, "fct_operations_kpis_history"),
            _gold_rows(spark, "fct_operations_kpis_monthly"),
            _rows(spark, f"{get_settings().schema_prefix}quality.model_runs"),
            _rows(spark, f"{get_settings().schema_prefix}quality.model_scoring"),
        ),
        encoding="utf-8",
    )
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


def _gold_rows(spark, table: str) -> list[dict]:
    return _rows(spark, f"{get_settings().schema_prefix}gold.{table}")


def _rows(spark, name: str) -> list[dict]:
    """A table's rows (dicts); none while it does not exist."""
    return [r.asDict() for r in spark.table(name).collect()] if spark.catalog.tableExists(name) else []


if __name__ == "__main__":
    print(json.dumps(build_report(), indent=1))
    sys.exit(0)

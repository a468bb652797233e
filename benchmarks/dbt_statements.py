"""Where a dbt build's time goes: each statement's seconds from dbt's debug log, slowest first.

``python benchmarks/dbt_statements.py dbt/logs/dbt.log [--top 25] [--by-node]``

Run the build with ``--log-level-file debug --log-path DIR`` and point this at ``DIR/dbt.log``;
``--by-node`` sums per node (model or test) instead of listing statements.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path

RECORD = re.compile(r"\n(?=(?:\x1b\[0m)?\d\d:\d\d:\d\d\.\d+ )")
STATEMENT = re.compile(r"\[([^\]]+)\]: On ([^:]+): (?:/\*.*?\*/)?\s*(.*)", re.S)
STATUS = re.compile(r"\[([^\]]+)\]: SQL status: \S+ in ([0-9.]+) seconds")


def statements(log: str) -> list[tuple[float, str, str]]:
    """(seconds, node, the statement's start) of every statement the log records."""
    last: dict[str, tuple[str, str]] = {}
    out = []
    for record in RECORD.split(log):
        if m := STATEMENT.search(record):
            last[m.group(1)] = (m.group(2).split(".")[-1], " ".join(m.group(3).split())[:150])
        elif m := STATUS.search(record):
            node, sql = last.get(m.group(1), ("?", "?"))
            out.append((float(m.group(2)), node, sql))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("log", type=Path)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--by-node", action="store_true")
    args = p.parse_args(argv)
    rows = statements(args.log.read_text(errors="replace"))
    if args.by_node:
        per_node: dict[str, float] = defaultdict(float)
        for seconds, node, _ in rows:
            per_node[node] += seconds
        for node, seconds in sorted(per_node.items(), key=lambda kv: -kv[1])[: args.top]:
            print(f"{seconds:7.2f}  {node}")
    else:
        for seconds, node, sql in sorted(rows, reverse=True)[: args.top]:
            print(f"{seconds:7.2f}  {node[:40]:40s}  {sql}")
    print(f"{len(rows)} statements, {sum(r[0] for r in rows):.1f} s in all (threads overlap)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The CDC bad-input corpus (``tests/data/bad_inputs/cdc/``) as Kafka-record-like objects, for
the Spark tier (every item) and the integration tier (a few, through the real Kafka)."""

from __future__ import annotations

import json
from collections import namedtuple
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CDC_CORPUS = Path(__file__).parent / "data" / "bad_inputs" / "cdc"
# What parse_poll reads of a kafka-python ConsumerRecord.
Record = namedtuple("Record", "key value offset")


@dataclass(frozen=True)
class Item:
    id: str
    description: str
    topic: str
    messages: tuple[tuple[bytes | None, bytes | None], ...]  # (key, value) in offset order
    expect: dict[str, Any]

    @property
    def landed(self) -> int:
        return self.expect["landed"]

    @property
    def dead(self) -> int:
        return self.expect["dead"]

    @property
    def tombstones(self) -> int:
        return self.expect["tombstones"]

    def records(self, first_offset: int) -> list[Record]:
        return [Record(k, v, first_offset + i) for i, (k, v) in enumerate(self.messages)]


def _bytes(spec: Any) -> bytes | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        return (CDC_CORPUS / "messages" / spec).read_bytes()
    grow = spec["oversized"]  # kept as a spec: a few MB of one letter is no data worth storing
    envelope = json.loads((CDC_CORPUS / "messages" / grow["base"]).read_bytes())
    envelope["after"][grow["column"]] = "x" * grow["chars"]
    return json.dumps(envelope, separators=(",", ":")).encode()


def load_cdc_corpus() -> list[Item]:
    doc = yaml.safe_load((CDC_CORPUS / "manifest.yaml").read_text())
    return [
        Item(
            i["id"],
            i["description"],
            i["topic"],
            tuple((_bytes(m["key"]), _bytes(m["value"])) for m in i["messages"]),
            i["expect"],
        )
        for i in doc["items"]
    ]


def referenced_files() -> set[str]:
    """The message files the manifest names (the oversized items' bases included)."""
    doc = yaml.safe_load((CDC_CORPUS / "manifest.yaml").read_text())
    names = set()
    for item in doc["items"]:
        for m in item["messages"]:
            for spec in (m["key"], m["value"]):
                if isinstance(spec, str):
                    names.add(spec)
                elif isinstance(spec, dict):
                    names.add(spec["oversized"]["base"])
    return names


def outcome_table(rows: list[tuple[str, str, int, int, int, int, str]]) -> str:
    """(kind, topic, records, landed, dead, tombstones, reason) as a fixed-width table."""
    head = ("kind", "topic", "records", "landed", "dead", "tombstones", "reason (dead letters)")
    cells = [head, *[tuple(str(c) for c in r) for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1][:90] for r in cells]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])

"""The shape of ``bench/results/latest.json``, the issue's floors, and the printed table.

Every pinned key (``ingest.rate`` …) is a figure: ``value``, ``ceiling`` (the same thing
measured without the service, in the same run; null where there is none), ``ratio``
(value / ceiling), ``unit``, and the issue's ``floor`` with whether it is ``met``.
"""

from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True)
class Floor:
    bound: float
    at_least: bool
    """True: the value must be ≥ ``bound``; False: ≤."""

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value >= self.bound if self.at_least else value <= self.bound

    def text(self) -> str:
        bound = f"{int(self.bound):,}" if float(self.bound).is_integer() else f"{self.bound:g}"
        return f"{'≥' if self.at_least else '≤'} {bound}"


PINNED: dict[str, tuple[str, Floor]] = {
    "ingest.rate": ("reports/s", Floor(1000, at_least=True)),
    "ingest.p99_ms": ("ms", Floor(100, at_least=False)),
    "ingest.ratio": ("of ceiling", Floor(0.5, at_least=True)),
    "e2e.p50_ms": ("ms", Floor(50, at_least=False)),
    "e2e.p99_ms": ("ms", Floor(250, at_least=False)),
    "replay.events_per_s": ("events/s", Floor(25_000, at_least=True)),
    "replay.ratio": ("of ceiling", Floor(0.3, at_least=True)),
    "replay.peak_rss_mb": ("MB", Floor(400, at_least=False)),
    "query.p99_ms": ("ms", Floor(20, at_least=False)),
    "query.orders": ("orders", Floor(1_000_000, at_least=True)),
}
"""The issue's keys, units and floors."""
EXTRA: dict[str, tuple[str, Floor | None]] = {
    "ingest.p50_ms": ("ms", None),
    "query.p50_ms": ("ms", None),
    "query.summary_ms": ("ms", Floor(1000, at_least=False)),
    "replay.judge_events_per_s": ("events/s", None),
}
FIGURE_FIELDS = ("value", "ceiling", "ratio", "unit")
TOP_LEVEL = ("machine", "versions", "cpu")


def figure(key: str, value: float | None, ceiling: float | None = None, **more: Any) -> Json:
    """One figure, with its ratio to the ceiling and the floor it is held to."""
    unit, floor = PINNED[key] if key in PINNED else EXTRA[key]
    ratio = round(value / ceiling, 3) if value is not None and ceiling else None
    return {
        "value": value,
        "ceiling": ceiling,
        "ratio": ratio,
        "unit": unit,
        "floor": None if floor is None else floor.text(),
        "met": None if floor is None else floor.met(value),
        **more,
    }


def lookup(doc: Json, key: str) -> Any:
    node: Any = doc
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def missing_keys(doc: Json) -> list[str]:
    """Pinned keys (and their fields) the document lacks: empty when the harness did its job."""
    missing = [k for k in TOP_LEVEL if not doc.get(k)]
    for key in PINNED:
        node = lookup(doc, key)
        if not isinstance(node, dict):
            missing.append(key)
            continue
        missing += [f"{key}.{f}" for f in FIGURE_FIELDS if f not in node]
    for part in ("cores", "memory_mb"):
        if not lookup(doc, f"machine.{part}"):
            missing.append(f"machine.{part}")
    for part in ("python", "postgresql", "kafka"):
        if not lookup(doc, f"versions.{part}"):
            missing.append(f"versions.{part}")
    return missing


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(doc: Json) -> str:
    """The figures beside their ceilings and floors, and which floors are met."""
    rows = [("figure", "value", "ceiling", "ratio", "unit", "floor", "met")]
    for key in (*PINNED, *EXTRA):
        node = lookup(doc, key)
        if not isinstance(node, dict):
            continue
        rows.append(
            (
                key,
                _fmt(node.get("value")),
                _fmt(node.get("ceiling")),
                _fmt(node.get("ratio")),
                str(node.get("unit") or ""),
                str(node.get("floor") or ""),
                _fmt(node.get("met")),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    met = [lookup(doc, f"{k}.met") for k in PINNED]
    lines.append(
        f"floors met: {sum(m is True for m in met)} of {len(PINNED)}"
        f" (not met: {', '.join(k for k, m in zip(PINNED, met, strict=True) if m is False) or 'none'};"
        f" not measured: {', '.join(k for k, m in zip(PINNED, met, strict=True) if m is None) or 'none'})"
    )
    return "\n".join(lines)

"""``python -m bench``: every hot path beside its own ceiling, on this machine, in one run.

The bench brings up its own stack (the three services as processes, on fresh databases and a
fresh topic prefix on the local Kafka and PostgreSQL, as the tests do) and removes it after; it
never touches ``make up``'s services. ``--smoke`` runs every figure at tiny sizes (CI: it checks
that the harness works and the JSON has every pinned key, never that a figure is fast).
"""

import contextlib
import functools
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvloop

from bench import figures
from bench.machine import CpuMeter, machine, pg_test_fsync, versions
from bench.results import figure, missing_keys, table
from simulator.city import make_city
from simulator.driver import Urls, load_city
from simulator.progress import bar
from simulator.tokens import Tokens
from tests.support.infra import ROOT, real_infra
from tests.support.system import Stack, started_stack

app = typer.Typer(help=__doc__, add_completion=False)
RESULTS = ROOT / "bench" / "results" / "latest.json"
FIGURES = ("ingest", "e2e", "replay", "query")
"""What ``--only`` may name; the default is all of them."""
T = TypeVar("T")
Json = dict[str, Any]


@dataclass(frozen=True)
class Sizes:
    runs: int
    ingest_connections: int
    ingest_seconds: float
    ingest_warm_s: float
    e2e_samples: int
    e2e_background: float
    replay_events: int
    replay_runs: int
    query_samples: int
    replay_timeout_s: float
    centers: int
    crews_per_center: int
    vehicles_per_crew: int
    dispatch_instances: int = 2
    """Dispatch processes on the one database during ingest and e2e (ingest's load is spread
    over them, one connection each in turn; e2e's requests go to the first, the others share
    its consumer group, relay and timers): one per core, as ``DISPATCH_WORKERS=2 make up`` runs
    it. A position report is bound by dispatch's Python; one process would leave the second
    core to PostgreSQL alone (docs/scaling.md)."""
    rebuild_instances: int = 1
    """Timeline processes sharing the rebuild's partitions (one core each)."""
    query_orders: int = 0
    """Orders the timeline holds while it is queried: the rebuilt ones, and synthetic ones
    beside them up to this many (``figures.fill_orders``)."""


SMOKE = Sizes(1, 4, 2.0, 0.5, 3, 16.0, 2_000, 1, 50, 120.0, 2, 2, 4, 2, 2, 5_000)
FULL = Sizes(3, 16, 15.0, 3.0, 100, 300.0, 1_000_000, 1, 500, 3600.0, 10, 6, 5, 2, 2, 1_000_000)
"""300 vehicles: the e2e background's 300 reports/s is one ping a second from each, so that no
unit's stream is written by two posts at once (issue 9: 12 vehicles shared by 32 connections
end in ``ConcurrentWrite`` 500s: a figure of its own, not the e2e's background)."""


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def _median_of(runs: list[Json], key: str) -> float | None:
    return figures.median([r.get(key) for r in runs])


@contextlib.contextmanager
def _logs(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as tmp:
        yield Path(tmp)


def _cpu_ports(stack: Stack, infra_ports: dict[str, int], names: tuple[str, ...]) -> CpuMeter:
    ports = {n: stack.processes[n].port for n in names if n in stack.processes}
    meter = CpuMeter.by_ports({**ports, **infra_ports}, with_children=frozenset({"postgresql"}))
    meter.pids["bench"] = (os.getpid(), False)
    return meter


def _more_dispatch(stack: Stack, instances: int) -> list[str]:
    """The dispatch URLs to load: the stack's own, and ``instances - 1`` more processes of it
    on the same database (outbox relay under its advisory lock, one consumer group, timers
    ``SKIP LOCKED``: docs/scaling.md)."""
    system = stack.system
    extra = [
        stack.add(f"dispatch{n}", "dispatch", system.database_urls["dispatch"])
        for n in range(2, instances + 1)
    ]
    for process in extra:
        process.wait_ready()
    return [system.urls["dispatch"], *(p.url for p in extra)]


def measure_service_figures(
    stack: Stack,
    sizes: Sizes,
    seed: int,
    cpu: Json,
    ports: dict[str, int],
    only: frozenset[str] = frozenset(FIGURES),
) -> tuple[Json, Json]:
    """ingest and e2e (those of them in ``only``), on a running stack with the city loaded."""
    system = stack.system
    city = make_city(
        seed,
        centers=sizes.centers,
        crews_per_center=sizes.crews_per_center,
        vehicles_per_crew=sizes.vehicles_per_crew,
        tag=f"b{stack.run}",
    )
    say(f"city: {len(city.crews)} crews, {len(city.vehicles)} vehicles")
    keys = system.keys
    admin_only = figures.tokens_of(keys)
    uvloop.run(load_city(city, system.urls["dispatch"], admin_only))
    keys.prepare(city.vehicles)
    tokens = figures.tokens_of(keys)
    vehicles = [v.vehicle_id for v in city.vehicles]
    dispatch_db = system.database_urls["dispatch"]
    dispatch_urls = _more_dispatch(stack, sizes.dispatch_instances)
    dispatchers = tuple(n for n in stack.processes if n.startswith("dispatch"))
    measured = ("intake", *dispatchers, "timeline")
    ingest = (
        _measure_ingest(
            stack, sizes, cpu, ports, measured, tokens, vehicles, dispatch_db, dispatch_urls
        )
        if "ingest" in only
        else {}
    )
    if "e2e" not in only:
        return ingest, {}
    urls = Urls(system.urls["intake"], system.urls["dispatch"], system.urls["timeline"])
    e2e_runs: list[Json] = []
    meter = _cpu_ports(stack, ports, measured)
    meter.start()
    for n in range(sizes.runs):
        say(
            f"e2e run {n + 1}/{sizes.runs}: {sizes.e2e_samples} orders beside {sizes.e2e_background} reports/s"
        )
        one = uvloop.run(
            figures.e2e(
                city,
                urls,
                tokens,
                samples=sizes.e2e_samples,
                background_rate=sizes.e2e_background,
                seed=seed + n,
            )
        )
        say(
            f"  H answered → H on the timeline: p50 {one['p50_ms']} ms p99 {one['p99_ms']} ms ({one['samples']} orders, background {one['background_rate']}/s)"
        )
        for name, seen in one["stalls"].items():
            by_generation = ", ".join(
                f"generation {g}: {c['collections']} ({c['over_50ms']} over 50 ms, {c['seconds']} s)"
                for g, c in seen["gc_by_generation"].items()
            )
            say(
                f"  {name}: loop late > 50 ms {seen['loop_late_over_50ms']} of {seen['loop_wakeups']} wake-ups; {seen['gc_collections']} collections, {seen['gc_over_50ms']} over 50 ms"
                + (f" ({by_generation})" if by_generation else "")
            )
        e2e_runs.append(one)
    cpu["e2e"] = meter.stop()
    e2e = {
        "p50_ms": figure("e2e.p50_ms", _median_of(e2e_runs, "p50_ms")),
        "p99_ms": figure("e2e.p99_ms", _median_of(e2e_runs, "p99_ms")),
        "background_reports_per_s": sizes.e2e_background,
        "measures": "the `arrived` POST answered → GET /v1/work-orders/{id}/timeline shows H",
        "runs": e2e_runs,
    }
    return ingest, e2e


def _measure_ingest(
    stack: Stack,
    sizes: Sizes,
    cpu: Json,
    ports: dict[str, int],
    measured: tuple[str, ...],
    tokens: Tokens,
    vehicles: list[str],
    dispatch_db: str,
    dispatch_urls: list[str],
) -> Json:
    """ingest: position reports over HTTP beside the same transactions through asyncpg."""
    ingest_runs: list[Json] = []
    # Apart per phase: what the HTTP path costs each process, and what the bare statements do.
    phases: dict[str, list[dict[str, float]]] = {"ingest": [], "ingest_ceiling": []}
    meter = _cpu_ports(stack, ports, measured)
    for n in range(sizes.runs):
        say(
            f"ingest run {n + 1}/{sizes.runs}: {sizes.ingest_connections} connections, {sizes.ingest_seconds} s"
        )
        meter.start()
        http = uvloop.run(
            figures.ingest_http(
                dispatch_urls,
                tokens,
                vehicles,
                sizes.ingest_connections,
                sizes.ingest_seconds,
                sizes.ingest_warm_s,
            )
        )
        phases["ingest"].append(meter.stop())
        meter.start()
        ceiling = uvloop.run(
            figures.ingest_ceiling(
                dispatch_db,
                stack.topic_prefix,
                vehicles,
                sizes.ingest_connections,
                sizes.ingest_seconds,
                sizes.ingest_warm_s,
            )
        )
        say(
            f"  http {http['rate']}/s p99 {http['p99_ms']} ms; asyncpg {ceiling['rate']}/s p99 {ceiling['p99_ms']} ms"
        )
        phases["ingest_ceiling"].append(meter.stop())
        ingest_runs.append({"http": http, "asyncpg": ceiling})
    for phase, measured_runs in phases.items():
        cpu[phase] = {
            name: figures.median([m[name] for m in measured_runs]) for name in measured_runs[0]
        }
    rate = figures.median([r["http"]["rate"] for r in ingest_runs])
    ceiling_rate = figures.median([r["asyncpg"]["rate"] for r in ingest_runs])
    p99 = figures.median([r["http"]["p99_ms"] for r in ingest_runs])
    p50 = figures.median([r["http"]["p50_ms"] for r in ingest_runs])
    ratio = round(rate / ceiling_rate, 3) if rate is not None and ceiling_rate else None
    ingest = {
        "rate": figure("ingest.rate", rate, ceiling_rate),
        "p50_ms": figure(
            "ingest.p50_ms", p50, figures.median([r["asyncpg"]["p50_ms"] for r in ingest_runs])
        ),
        "p99_ms": figure(
            "ingest.p99_ms", p99, figures.median([r["asyncpg"]["p99_ms"] for r in ingest_runs])
        ),
        "ratio": figure("ingest.ratio", ratio),
        "connections": sizes.ingest_connections,
        "seconds_per_run": sizes.ingest_seconds,
        "request": "POST /v1/vehicles/{id}/reports (position), closed loop, one unit per connection",
        "ceiling_is": "the same statements in one transaction straight through asyncpg (no HTTP)",
        "runs": ingest_runs,
        "dispatch_instances": len(dispatch_urls),
    }
    return ingest


def measure_replay_and_query(
    infra: Any,
    logs: Path,
    sizes: Sizes,
    seed: int,
    cpu: Json,
    ports: dict[str, int],
    progress: bool,
) -> tuple[Json, Json]:
    """replay and query, on a stack of their own: history written straight to Kafka, a bare
    consumer over it, then a fresh timeline rebuilding from offset 0, then queries on it."""
    replay_runs: list[Json] = []
    query_runs: list[Json] = []
    for n in range(sizes.replay_runs):
        stack = Stack(infra, logs, label="benchreplay")
        try:
            city = make_city(
                seed,
                centers=sizes.centers,
                crews_per_center=sizes.crews_per_center,
                tag=f"r{stack.run}",
            )
            say(
                f"replay run {n + 1}/{sizes.replay_runs}: writing ~{sizes.replay_events:,} events to Kafka"
            )
            with bar("events to Kafka", sizes.replay_events, enabled=progress) as shown:
                advance = functools.partial(shown.advance, shown.task_ids[0])
                written = uvloop.run(
                    figures.write_history(
                        city,
                        infra.kafka_bootstrap,
                        stack.topic_prefix,
                        sizes.replay_events,
                        seed + n,
                        tick=advance,
                    )
                )
            say(
                f"  wrote {written.events:,} events ({written.orders:,} orders) in {written.seconds:.1f} s"
            )
            topics = [f"{stack.topic_prefix}{t.name}" for t in figures.REPLAYED]
            bare = uvloop.run(figures.bare_consumer(infra.kafka_bootstrap, topics))
            say(f"  bare consumer: {bare['events_per_s']:,} events/s")
            alone = figures.judge_alone(written.sample)
            say(
                f"  the judge alone: {alone['events_per_s']:,} events/s on one core"
                f" ({alone['events']:,} events of {alone['orders']:,} orders)"
            )
            meter = CpuMeter.by_ports(ports, with_children=frozenset({"postgresql"}))
            meter.pids["bench"] = (os.getpid(), False)
            meter.start()
            rebuilt = uvloop.run(
                figures.rebuild(
                    stack,
                    topics,
                    timeout_s=sizes.replay_timeout_s,
                    instances=sizes.rebuild_instances,
                )
            )
            cpu.setdefault("replay", []).append({**meter.stop(), **rebuilt.pop("cpu_percent")})
            say(
                f"  rebuild: {rebuilt['events_per_s']:,} events/s, peak RSS {rebuilt['peak_rss_mb']} MB"
            )
            replay_runs.append(
                {
                    "written": {
                        "events": written.events,
                        "orders": written.orders,
                        "seconds": round(written.seconds, 3),
                    },
                    "bare": bare,
                    "judge_alone": alone,
                    "rebuild": rebuilt,
                }
            )
            database_url = rebuilt.pop("database_url")
            held = figures.orders_held(database_url)
            if sizes.query_orders > len(held):
                say(f"  filling the timeline to {sizes.query_orders:,} orders held")
                filled = uvloop.run(
                    figures.fill_orders(
                        database_url, sizes.query_orders - len(held), written.anchor
                    )
                )
                say(f"  filled {filled['orders']:,} orders in {filled['seconds']} s")
            keys, auditor = figures.auditor_for(stack, rebuilt["url"])
            try:
                day = (written.anchor, written.anchor + timedelta(days=1))
                asked = uvloop.run(
                    figures.query(
                        rebuilt["url"],
                        auditor,
                        held,
                        samples=sizes.query_samples,
                        day=day,
                    )
                )
            finally:
                keys.close()
            asked["orders"] = max(len(held), sizes.query_orders)
            say(
                f"  query: p99 {asked['p99_ms']} ms over {asked['samples']} orders of {asked['orders']:,}; summary {asked['summary_ms']} ms"
            )
            query_runs.append(asked)
        finally:
            stack.close()
    rate = figures.median([r["rebuild"]["events_per_s"] for r in replay_runs])
    bare_rate = figures.median([r["bare"]["events_per_s"] for r in replay_runs])
    ratio = round(rate / bare_rate, 3) if rate is not None and bare_rate else None
    per_core = figures.median([r["judge_alone"]["events_per_s"] for r in replay_runs])
    replay = {
        "events_per_s": figure("replay.events_per_s", rate, bare_rate),
        "ratio": figure("replay.ratio", ratio),
        "peak_rss_mb": figure(
            "replay.peak_rss_mb",
            figures.median([r["rebuild"]["peak_rss_mb"] for r in replay_runs]),
            rss_at=replay_runs[-1]["rebuild"]["rss_at"],
        ),
        "judge_events_per_s": figure(
            "replay.judge_events_per_s",
            None if per_core is None else round(per_core * sizes.rebuild_instances, 1),
            bare_rate,
            measures="the pure judge alone, as the projection judges each event, on as many cores"
            " as the rebuild has processes: the most a rebuild judging every event could reach",
        ),
        "events": replay_runs[-1]["rebuild"]["events"],
        "ceiling_is": "a bare aiokafka consumer reading the same topics from offset 0, no processing",
        "runs": replay_runs,
    }
    summary = figures.median([q.get("summary_ms") for q in query_runs])
    query = {
        "p99_ms": figure("query.p99_ms", _median_of(query_runs, "p99_ms")),
        "p50_ms": figure("query.p50_ms", _median_of(query_runs, "p50_ms")),
        "orders": figure("query.orders", float(query_runs[-1]["orders"])),
        "summary_ms": figure(
            "query.summary_ms",
            summary,
            reason=None if summary is not None else query_runs[-1].get("summary_reason"),
        ),
        "measures": "GET /v1/work-orders/{id}/timeline one at a time on the rebuilt timeline; GET /v1/reports/summary for the day",
        "runs": query_runs,
    }
    return replay, query


def _guard(name: str, errors: dict[str, str], work: Callable[[], T]) -> T | None:
    try:
        return work()
    except Exception as err:  # recorded and reported: the run goes on to the next figure
        errors[name] = f"{type(err).__name__}: {err}"
        say(f"{name} FAILED: {errors[name]}\n{traceback.format_exc()}")
        return None


@app.command()
def run(
    smoke: Annotated[
        bool, typer.Option(help="Tiny sizes (seconds): does the harness work?")
    ] = False,
    seed: Annotated[int, typer.Option(help="The simulator's seed.")] = 1,
    runs: Annotated[int | None, typer.Option(help="Runs per figure (medians of them).")] = None,
    replay_events: Annotated[int | None, typer.Option(help="Events to rebuild from.")] = None,
    e2e_samples: Annotated[int | None, typer.Option(help="Orders per e2e run.")] = None,
    ingest_seconds: Annotated[float | None, typer.Option(help="Seconds per ingest run.")] = None,
    ingest_connections: Annotated[
        int | None, typer.Option(help="Connections (closed loops) of the ingest load.")
    ] = None,
    dispatch_instances: Annotated[
        int | None,
        typer.Option(help="Dispatch processes on one database for ingest and e2e (default 2)."),
    ] = None,
    only: Annotated[
        str, typer.Option(help=f"Comma list of the figures to measure: {','.join(FIGURES)}.")
    ] = ",".join(FIGURES),
    replay_timeout: Annotated[
        float | None, typer.Option(help="Seconds the rebuild may take before it is stopped.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where the JSON goes (default latest.json; latest-<figures>.json with --only, "
            "latest-smoke.json with --smoke)."
        ),
    ] = None,
    rebuild_instances: Annotated[
        int | None, typer.Option(help="Timeline processes sharing the rebuild (default 2).")
    ] = None,
    query_orders: Annotated[
        int | None, typer.Option(help="Orders held while the timeline is queried (default 1M).")
    ] = None,
    keep_logs: Annotated[Path | None, typer.Option(help="Keep the services' logs here.")] = None,
    progress: Annotated[bool, typer.Option(help="Progress bars.")] = True,
) -> None:
    """Measure every figure, print the table with the issue's floors, write the JSON."""
    chosen = frozenset(f.strip() for f in only.split(",") if f.strip())
    if not chosen or not chosen <= set(FIGURES):
        raise typer.BadParameter(
            f"name some of {', '.join(FIGURES)}, not {only!r}", param_hint="--only"
        )
    partial = chosen != set(FIGURES)
    # A partial run or a smoke never overwrites the whole run's results.
    if out is None and partial:
        out = RESULTS.with_name(f"latest-{'-'.join(f for f in FIGURES if f in chosen)}.json")
    elif out is None:
        out = RESULTS.with_name("latest-smoke.json") if smoke else RESULTS
    base = SMOKE if smoke else FULL
    sizes = Sizes(
        **{
            **base.__dict__,
            **({"runs": runs} if runs else {}),
            **({"replay_events": replay_events} if replay_events else {}),
            **({"e2e_samples": e2e_samples} if e2e_samples else {}),
            **({"ingest_seconds": ingest_seconds} if ingest_seconds else {}),
            **({"ingest_connections": ingest_connections} if ingest_connections else {}),
            **({"dispatch_instances": dispatch_instances} if dispatch_instances else {}),
            **({"replay_timeout_s": replay_timeout} if replay_timeout else {}),
            **({"query_orders": query_orders} if query_orders is not None else {}),
            **({"rebuild_instances": rebuild_instances} if rebuild_instances else {}),
        }
    )
    started = time.monotonic()
    started_at = datetime.now(UTC)
    errors: dict[str, str] = {}
    cpu: Json = {}
    doc: Json = {
        "run": {
            "mode": "smoke" if smoke else "bench",
            "started_at": started_at.isoformat(),
            "seed": seed,
            "sizes": sizes.__dict__,
            "only": [f for f in FIGURES if f in chosen],
            "host": platform.node(),
        },
        "machine": machine(),
    }
    say(f"{doc['run']['mode']}: {sizes}")
    with real_infra() as infra, _logs(keep_logs) as logs:
        ports = figures.infra_ports(infra)
        doc["versions"] = versions(infra.postgres_url)
        doc["pg_test_fsync"] = _guard("pg_test_fsync", errors, pg_test_fsync)
        measured = None
        if chosen & {"ingest", "e2e"}:
            with started_stack(infra, logs, label="bench") as stack:
                say(f"stack up: {stack.system.urls}")
                measured = _guard(
                    "ingest/e2e",
                    errors,
                    lambda: measure_service_figures(stack, sizes, seed, cpu, ports, chosen),
                )
        ingest, e2e = measured if measured else ({}, {})
        replayed = None
        if chosen & {"replay", "query"}:  # the query asks the rebuilt timeline: one run gives both
            replayed = _guard(
                "replay/query",
                errors,
                lambda: measure_replay_and_query(infra, logs, sizes, seed, cpu, ports, progress),
            )
        replay, query = replayed if replayed else ({}, {})
    doc.update(
        {
            "ingest": ingest,
            "e2e": e2e,
            "replay": replay,
            "query": query,
            "cpu": cpu,
            "errors": errors,
        }
    )
    doc["cpu_note"] = (
        "% of one core per process over each figure (ingest: its HTTP runs, ingest_ceiling: "
        "its asyncpg runs; medians); postgresql counts the postmaster and every "
        "backend (other users of the same server included); bench is this load generator"
    )
    doc["run"]["seconds"] = round(time.monotonic() - started, 1)
    # A figure left out by --only is not missing; its keys are absent on purpose.
    missing = [k for k in missing_keys(doc) if k.split(".")[0] not in set(FIGURES) - chosen]
    doc["missing_keys"] = missing
    figures.dump(out, doc)
    print(table(doc))
    print(f"per-process CPU (% of one core): {cpu}")
    print(f"wrote {out} in {doc['run']['seconds']} s")
    if errors or missing:
        print(f"harness FAILED: errors {errors}, missing keys {missing}", file=sys.stderr)
        raise typer.Exit(1)

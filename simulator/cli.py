"""``python -m simulator``: a synthetic city, a seeded plan, run over HTTP or written to Kafka."""

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from simulator.city import City, make_city
from simulator.driver import Driver, Urls, load_city
from simulator.plan import iter_orders, make_plan
from simulator.progress import bar
from simulator.to_kafka import in_recorded_order, write
from simulator.tokens import Tokens, load_tokens

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)

Seed = Annotated[int, typer.Option(help="Everything generated follows from it.")]
Centers = Annotated[int, typer.Option(help="Repair centers in the city.")]
CrewsPer = Annotated[int, typer.Option(help="Crews per repair center.")]
VehiclesPer = Annotated[int, typer.Option(help="Vehicles per crew.")]
Orders = Annotated[int, typer.Option(help="Calls (work orders) in the plan.")]
LateShare = Annotated[float, typer.Option(help="Share of segments over their limit.")]
LatePosts = Annotated[float, typer.Option(help="Share of unit posts sent 6 min after their stamp.")]
Duplicates = Annotated[float, typer.Option(help="Share of unit posts sent twice.")]
Tag = Annotated[str | None, typer.Option(help="Tag in every id (default s<seed>).")]
Rate = Annotated[float, typer.Option(help="Calls per real second.")]
Speed = Annotated[float, typer.Option(help="Simulated seconds per real second.")]
PingInterval = Annotated[
    float, typer.Option(help="Real seconds between a vehicle's pings (0: none).")
]


def _city(
    seed: int, centers: int, crews_per_center: int, vehicles_per_crew: int, tag: str | None
) -> City:
    return make_city(
        seed,
        centers=centers,
        crews_per_center=crews_per_center,
        vehicles_per_crew=vehicles_per_crew,
        tag=tag,
    )


def _shares(late: float, late_posts: float, duplicates: float) -> dict[str, float]:
    """The plan's shares of late segments, late unit posts and duplicated unit posts."""
    return {"late_share": late, "late_post_share": late_posts, "duplicate_share": duplicates}


@app.command()
def plan(
    seed: Seed = 1,
    rate: Rate = 2.0,
    orders: Orders = 100,
    speed: Speed = 1.0,
    late_share: LateShare = 0.1,
    late_post_share: LatePosts = 0.05,
    duplicate_share: Duplicates = 0.05,
    ping_interval: PingInterval = 5.0,
    centers: Centers = 4,
    crews_per_center: CrewsPer = 4,
    vehicles_per_crew: VehiclesPer = 1,
    tag: Tag = None,
) -> None:
    """Print what a plan holds and its fingerprint (equal for the same options and seed)."""
    city = _city(seed, centers, crews_per_center, vehicles_per_crew, tag)
    p = make_plan(
        city,
        seed,
        rate=rate,
        orders=orders,
        speed=speed,
        ping_interval_s=ping_interval,
        tag=tag,
        **_shares(late_share, late_post_share, duplicate_share),
    )
    late = sum(len(o.late_segments) for o in p.orders)
    typer.echo(
        json.dumps(
            {
                "fingerprint": p.fingerprint(),
                "repair_centers": len(city.repair_centers),
                "crews": len(city.crews),
                "vehicles": len(city.vehicles),
                "orders": len(p.orders),
                "late_segments": late,
                "late_posts": sum(s.late for o in p.orders for s in o.steps),
                "duplicate_posts": sum(
                    s.duplicate_at_s is not None for o in p.orders for s in o.steps
                ),
                "pings": len(p.pings),
                "requests": p.requests,
                "real_seconds": round(p.horizon_s, 1),
            },
            indent=2,
        )
    )


@app.command()
def run(
    seed: Seed = 1,
    rate: Rate = 2.0,
    orders: Orders = 100,
    speed: Speed = 1.0,
    late_share: LateShare = 0.1,
    late_post_share: LatePosts = 0.05,
    duplicate_share: Duplicates = 0.05,
    ping_interval: PingInterval = 5.0,
    centers: Centers = 4,
    crews_per_center: CrewsPer = 4,
    vehicles_per_crew: VehiclesPer = 1,
    tag: Tag = None,
    intake: Annotated[str, typer.Option(help="Intake's URL.")] = "http://127.0.0.1:8001",
    dispatch: Annotated[str, typer.Option(help="Dispatch's URL.")] = "http://127.0.0.1:8002",
    timeline: Annotated[str, typer.Option(help="Timeline's URL.")] = "http://127.0.0.1:8003",
    tokens: Annotated[
        Path | None,
        typer.Option(help="Bearer tokens (default .local/dev-tokens.json if it exists)."),
    ] = None,
    define_city: Annotated[bool, typer.Option(help="PUT the city's reference data first.")] = True,
    give_up: Annotated[
        float, typer.Option(help="Seconds a post is retried before giving up.")
    ] = 60.0,
    progress: Annotated[bool, typer.Option(help="Draw a progress bar.")] = True,
    out: Annotated[Path | None, typer.Option(help="Write the summary here as JSON.")] = None,
) -> None:
    """Carry a plan out against running services over HTTP (open loop) and print the summary.

    With ``--speed`` above 1 the stamps are laid in the past of the real clock; services then
    need ``LIVE_STAMP_TOLERANCE_S`` at least ``(speed - 1) × the plan's real seconds``."""
    city = _city(seed, centers, crews_per_center, vehicles_per_crew, tag)
    p = make_plan(
        city,
        seed,
        rate=rate,
        orders=orders,
        speed=speed,
        ping_interval_s=ping_interval,
        tag=tag,
        **_shares(late_share, late_post_share, duplicate_share),
    )
    held = load_tokens(tokens)

    async def go() -> dict[str, object]:
        if define_city:
            await load_city(city, dispatch, held)
        with bar("requests", p.requests, enabled=progress) as shown:
            task = shown.task_ids[0]
            driver = Driver(
                p,
                city,
                Urls(intake, dispatch, timeline),
                held,
                give_up_s=give_up,
                tick=lambda: shown.advance(task),
            )
            result = await driver.run()
        return result.summary()

    summary = asyncio.run(go())
    text = json.dumps({"fingerprint": p.fingerprint(), **summary}, indent=2)
    if out is not None:
        out.write_text(text + "\n")
    typer.echo(text)


@app.command()
def kafka(
    bootstrap: Annotated[str, typer.Option(help="Kafka bootstrap servers.")] = "127.0.0.1:19092",
    prefix: Annotated[str, typer.Option(help="Topic prefix (TOPIC_PREFIX of the services).")] = "",
    seed: Seed = 1,
    orders: Orders = 1000,
    rate: Annotated[float, typer.Option(help="Calls per simulated second.")] = 1.0,
    late_share: LateShare = 0.1,
    late_post_share: LatePosts = 0.05,
    duplicate_share: Duplicates = 0.05,
    ping_interval: Annotated[
        float, typer.Option(help="Simulated seconds between a vehicle's pings (0: none).")
    ] = 0.0,
    centers: Centers = 4,
    crews_per_center: CrewsPer = 4,
    vehicles_per_crew: VehiclesPer = 1,
    tag: Tag = None,
    start: Annotated[
        datetime | None,
        typer.Option(
            help="The first call's stamp (default: so that the last event is an hour ago)."
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Draw a progress bar.")] = True,
) -> None:
    """Write a plan's events straight to Kafka as the services would publish them."""
    city = _city(seed, centers, crews_per_center, vehicles_per_crew, tag)
    shares = _shares(late_share, late_post_share, duplicate_share)
    span = orders / rate + 2 * 3600 + 900
    anchor = (
        start.replace(tzinfo=start.tzinfo or UTC)
        if start
        else datetime.now(UTC) - timedelta(seconds=span + 3600)
    )
    pings = (
        make_plan(
            city, seed, rate=rate, orders=orders, ping_interval_s=ping_interval, tag=tag, **shares
        ).pings
        if ping_interval > 0
        else ()
    )

    async def go() -> dict[str, int]:
        with bar("events", orders * 9, enabled=progress) as shown:
            task = shown.task_ids[0]
            planned = iter_orders(city, seed, rate=rate, orders=orders, tag=tag, **shares)
            events = in_recorded_order(planned, pings, anchor, seed)
            return await write(events, bootstrap, prefix, tick=lambda n: shown.advance(task, n))

    counts = asyncio.run(go())
    typer.echo(json.dumps({"start": anchor.isoformat(), "topics": counts}, indent=2))


@app.command()
def tokens(
    out: Annotated[Path, typer.Option(help="Where the tokens file goes.")] = Path(
        ".local/sim-tokens.json"
    ),
    bootstrap: Annotated[str, typer.Option(help="Kafka bootstrap servers.")] = "127.0.0.1:19092",
    prefix: Annotated[str, typer.Option(help="Topic prefix (TOPIC_PREFIX of the services).")] = "",
    seed: Seed = 1,
    centers: Centers = 4,
    crews_per_center: CrewsPer = 4,
    vehicles_per_crew: VehiclesPer = 1,
    tag: Tag = None,
    ttl_hours: Annotated[float, typer.Option(help="How long the tokens are valid.")] = 24.0,
) -> None:
    """Issue tokens for the city (one per role, per repair center, per vehicle) the way
    ``tools.tokens`` does, and write them in the shape ``--tokens`` reads."""
    from contracts.access import Role
    from tools.tokens import Grant, issued_event, publish, write_dev_tokens

    city = _city(seed, centers, crews_per_center, vehicles_per_crew, tag)
    grants = [
        Grant(Role.PHONE_SYSTEM),
        Grant(Role.AUDITOR),
        Grant(Role.ADMIN),
        *(
            Grant(Role.DISPATCHER, repair_center_id=rc.repair_center_id)
            for rc in city.repair_centers
        ),
        *(Grant(Role.DEVICE, vehicle_id=v.vehicle_id) for v in city.vehicles),
    ]
    made = [
        issued_event(g, timedelta(hours=ttl_hours), "simulator", f"city {city.tag}") for g in grants
    ]
    asyncio.run(publish(bootstrap, prefix, [event for _, event in made]))
    write_dev_tokens(out, [one for one, _ in made])
    typer.echo(f"{len(made)} tokens issued on {prefix}repair.access.v1; written to {out}")


@app.command()
def demo(
    seed: Seed = 1,
    speed: Annotated[
        float, typer.Option(help="How many times faster what goes well is played.")
    ] = 20.0,
    calls: Annotated[int, typer.Option(help="Calls in the evening (at least 5).")] = 20,
    head_start: Annotated[
        float,
        typer.Option(
            help="Seconds a late segment's earlier points are stamped before they are sent "
            "(shortens the real wait for a breach; within LIVE_STAMP_TOLERANCE_S)."
        ),
    ] = 60.0,
    escalation_wait: Annotated[
        float, typer.Option(help="Seconds to wait for the escalation before going on.")
    ] = 330.0,
    ping_every: Annotated[
        float, typer.Option(help="Real seconds between a driving unit's pings.")
    ] = 3.0,
    tag: Annotated[
        str | None, typer.Option(help="In every id (default d<seed>-<time>: a run of its own).")
    ] = None,
    city_file: Annotated[
        Path, typer.Option(help="The reference data the evening plays on.")
    ] = Path("seed/city.json"),
    define_city: Annotated[
        bool, typer.Option(help="PUT the city's centers, crews and vehicles first (idempotent).")
    ] = True,
    intake: Annotated[str, typer.Option(help="Intake's URL.")] = "http://127.0.0.1:8001",
    dispatch: Annotated[str, typer.Option(help="Dispatch's URL.")] = "http://127.0.0.1:8002",
    timeline: Annotated[str, typer.Option(help="Timeline's URL.")] = "http://127.0.0.1:8003",
    tokens: Annotated[
        Path | None, typer.Option(help="Bearer tokens (default .local/dev-tokens.json).")
    ] = None,
    plan_only: Annotated[
        bool, typer.Option(help="Print the script's summary (and fingerprint) and stop.")
    ] = False,
) -> None:
    """A stormy evening against the running stack (``make demo``), saying what happens: calls
    in a burst, crews driving, late crews, a network incident, a recall, an escalation."""
    from simulator.demo import Player, banner
    from simulator.demo import define_city as put_city
    from simulator.storm import DemoCity, make_storm

    city = DemoCity.from_seed(json.loads(city_file.read_text()))
    run_tag = tag or f"d{seed}-{_base36(int(time.time()))}"
    storm = make_storm(
        city,
        seed,
        speed=speed,
        calls=calls,
        head_start_s=head_start,
        ping_every_s=ping_every,
        tag=run_tag,
    )
    if plan_only:
        typer.echo(json.dumps(storm.summary(), indent=2))
        return
    held = load_tokens(tokens) if tokens is None or tokens.exists() else Tokens()
    if held.phone_system is None or held.admin is None:
        typer.echo(f"no tokens in {tokens or '.local/dev-tokens.json'}: run `make up`", err=True)
        raise typer.Exit(2)
    urls = Urls(intake, dispatch, timeline)
    typer.echo(banner(storm, urls, held, tokens))

    async def go() -> dict[str, object]:
        if define_city:
            await put_city(city, dispatch, held)
        player = Player(storm, urls, held, escalation_wait_s=escalation_wait)
        return (await player.play()).summary()

    try:
        summary = asyncio.run(go())
    except KeyboardInterrupt:
        typer.echo("\nstopped (Ctrl-C): what was recorded stays; run again for a new evening.")
        raise typer.Exit(130) from None
    typer.echo(json.dumps(summary, indent=2))
    typer.echo(f"The evening's breaches: {timeline}/v1/breaches   the desk: {timeline}/desk/")


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"

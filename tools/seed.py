"""Load reference data (repair centers, routing rules, crews, vehicles) into a running dispatch.

Everything goes through dispatch's own API, so the seed is validated like any other request and
loading it twice changes nothing (a definition PUT again as it stands records no event). Reference
data is the admin's to define: the token is ``--token``, else ``$REPAIR_DISPATCH_TOKEN``, else the
admin token ``make up`` wrote to ``.local/dev-tokens.json``.
"""

import json
from pathlib import Path
from typing import Annotated

import httpx
import typer

DEFAULT_SEED = Path(__file__).parents[1] / "seed" / "city.json"
DEV_TOKENS = Path(__file__).parents[1] / ".local" / "dev-tokens.json"
# Parents before children: a routing rule and a crew name their repair center, a vehicle its crew.
KINDS = (
    ("repair_centers", "repair-centers"),
    ("routing_rules", "routing-rules"),
    ("crews", "crews"),
    ("vehicles", "vehicles"),
)


def main(
    seed: Annotated[
        Path, typer.Option(help="JSON file with repair_centers, routing_rules, crews, vehicles.")
    ] = DEFAULT_SEED,
    dispatch_url: Annotated[str, typer.Option(envvar="DISPATCH_URL")] = "http://127.0.0.1:8002",
    token: Annotated[
        str | None, typer.Option(envvar="REPAIR_DISPATCH_TOKEN", help="An admin token.")
    ] = None,
) -> None:
    data = json.loads(seed.read_text())
    if token is None:
        if not DEV_TOKENS.exists():
            typer.echo(f"no --token and no {DEV_TOKENS}: run `make up`", err=True)
            raise typer.Exit(2)
        token = str(json.loads(DEV_TOKENS.read_text())["admin"])
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=dispatch_url, timeout=10, headers=headers) as client:
        for kind, path in KINDS:
            records = data.get(kind, {})
            created = 0
            for key, body in records.items():
                response = client.put(f"/v1/{path}/{key}", json=body)
                if response.is_error:
                    typer.echo(f"{kind} {key}: {response.status_code} {response.text}", err=True)
                    raise typer.Exit(1)
                created += response.status_code == 201
            typer.echo(f"[seed] {kind}: {len(records)} loaded ({created} new)")


if __name__ == "__main__":
    typer.run(main)

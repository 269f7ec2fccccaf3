"""Pictures of the console and the desk for the README, from a running stack (``make demo``).

``uv run python -m tools.screenshots`` signs in with the dev tokens (``.local/dev-tokens.json``)
in Debian's chromium and writes ``docs/images/console.png`` and ``docs/images/desk.png``.
"""

import json
from pathlib import Path
from typing import Annotated

import typer
from playwright.sync_api import sync_playwright

app = typer.Typer(add_completion=False)


@app.command()
def main(
    tokens: Annotated[Path, typer.Option(help="Written by `make up`.")] = Path(
        ".local/dev-tokens.json"
    ),
    center: Annotated[str, typer.Option(help="Whose console.")] = "rc-dongcheng",
    dispatch: Annotated[str, typer.Option(help="Dispatch's URL.")] = "http://127.0.0.1:8002",
    timeline: Annotated[str, typer.Option(help="Timeline's URL.")] = "http://127.0.0.1:8003",
    out: Annotated[Path, typer.Option(help="Where the pictures go.")] = Path("docs/images"),
    chromium: Annotated[str, typer.Option(help="The browser.")] = "/usr/bin/chromium",
) -> None:
    """Open the console and the desk as their users would and photograph them."""
    held = json.loads(tokens.read_text())
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        pages = (
            (dispatch, held["dispatcher"][center], "/console/", None, "console.png"),
            # The desk on the most recent breach: its bars, findings and ladder.
            (timeline, held["auditor"], "/desk/", "[data-testid=recent-breach]", "desk.png"),
        )
        for base, token, path, click, name in pages:
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            context.add_cookies([{"name": "rd_token", "value": token, "url": base}])
            page = context.new_page()
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            if click is not None:
                page.locator(click).first.click()
                page.wait_for_load_state("networkidle")
            page.wait_for_timeout(1500)  # the live stream's first refresh
            page.screenshot(path=str(out / name), full_page=click is not None)
            typer.echo(f"wrote {out / name}")
            context.close()
        browser.close()


if __name__ == "__main__":
    app()

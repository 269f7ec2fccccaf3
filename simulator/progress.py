"""A progress bar on stderr (rich), advanced from the drivers' ``tick``."""

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


@contextmanager
def bar(description: str, total: int, *, enabled: bool = True) -> Iterator[Progress]:
    """``with bar("posts", n) as p: ...; p.advance(p.task_ids[0])``; disabled: never drawn."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )
    with progress:
        progress.add_task(description, total=total)
        yield progress

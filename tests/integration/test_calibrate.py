"""``python -m tools.calibrate`` against the timeline service's real database: orders posted over
HTTP through the three services, consumed from Kafka, then calibrated by "usual time + 1 minute".
"""

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from domain.policy import DEFAULT_POLICY
from tests.support.desk import Desk, ago, minutes_after
from tests.support.system import System

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
ALL_POINTS = set("ABCDEFGH")


def calibrate(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.calibrate",
            "--database-url",
            system.database_urls["timeline"],
            *args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def table(stdout: str) -> dict[str, list[str]]:
    """The printed rows by limit name: the cells after the name."""
    names = ("AB", "BC", "CD", "DE co-located", "DE remote", "EF", "FG", "GH")
    rows = {}
    for line in stdout.splitlines():
        for name in (*names, "any segment", "A to H"):
            if line.startswith(name + " "):
                rows[name] = line[len(name) :].split()
    return rows


def test_calibration_of_scripted_orders(system: System, desk: Desk, tmp_path: Path) -> None:
    # Four orders stamped three days ago, a minute apart, in a window of their own.
    base = ago(3 * 24 * 60)
    remote, co_located = desk.crew(co_located=False), desk.crew(co_located=True)
    orders = [
        (remote, dict(A=0, B=1, C=3, D=4, E=6, F=7, G=9, H=30)),  # all on time
        (remote, dict(A=0, B=3, C=5, D=6, E=8, F=9, G=11, H=35)),  # AB 3 min: breached
        (remote, dict(A=0, B=1, C=3, D=4, E=9, F=10, G=12, H=36)),  # DE 5 min: breached
        (co_located, dict(A=0, B=1, C=2, D=3, E=4, F=5, G=7, H=25)),  # DE 1 min, co-located
    ]
    for n, (crew, offsets) in enumerate(orders):
        wo = desk.order(crew, minutes_after(base + timedelta(minutes=n), **offsets))
        desk.timeline(wo, ALL_POINTS)  # consumed by the timeline service, every point

    window = ("--from", _iso(base), "--to", _iso(base + timedelta(minutes=4)))
    draft_file = tmp_path / "draft.json"
    done = calibrate(system, *window, "--out", str(draft_file), "--version", "draft-test")
    assert done.returncode == 0, done.stderr
    assert "4 orders with A in" in done.stdout

    # Usual times (medians): AB 60, BC 120, CD 60, DE remote 120 (of 120, 120, 300),
    # DE co-located 60, EF 60, FG 120, GH 1350 (of 1260, 1440, 1440, 1080); + 60 s each.
    draft = json.loads(draft_file.read_text())
    assert draft["version"] == "draft-test"
    assert draft["limits_s"] == {
        "AB": 120,
        "BC": 180,
        "CD": 120,
        "EF": 120,
        "FG": 180,
        "GH": 1410,
    }
    assert (draft["de_remote_limit_s"], draft["de_co_located_limit_s"]) == (180, 120)
    assert draft["total_limit_s"] == DEFAULT_POLICY.total_limit_s
    assert datetime.fromisoformat(draft["effective_from"]) > datetime.fromisoformat(_iso(ago(0)))

    rows = table(done.stdout)
    # samples, usual, current limit, draft limit, breaching now, breaching under the draft
    assert rows["AB"] == ["4", "60.0", "120", "120", "1", "1"]
    assert rows["DE remote"] == ["3", "120.0", "240", "180", "1", "1"]
    assert rows["DE co-located"] == ["1", "60.0", "120", "120", "0", "0"]
    assert rows["GH"] == ["4", "1350.0", "1680", "1410", "0", "2"]  # orders 2 and 3: 24 min
    assert rows["any segment"][-2:] == ["2", "2"]
    assert rows["A to H"][-2:] == ["0", "0"]

    # Another percentile: the slowest order sets the usual time.
    slowest = calibrate(
        system, *window, "--out", str(tmp_path / "p100.json"), "--percentile", "100"
    )
    assert slowest.returncode == 0, slowest.stderr
    assert json.loads((tmp_path / "p100.json").read_text())["limits_s"]["AB"] == 240


def test_an_empty_window_says_so_and_writes_nothing(system: System, tmp_path: Path) -> None:
    far = ago(400 * 24 * 60)
    out = tmp_path / "none.json"
    done = calibrate(
        system, "--from", _iso(far), "--to", _iso(far + timedelta(hours=1)), "--out", str(out)
    )
    assert done.returncode == 1
    assert "no orders with A in" in done.stderr
    assert not out.exists()


def test_a_window_backwards_is_refused(system: System) -> None:
    done = calibrate(system, "--from", "2026-11-02T00:00Z", "--to", "2026-11-01T00:00Z")
    assert done.returncode == 2
    assert "--to must come after --from" in done.stderr


def _iso(moment: datetime) -> str:
    return moment.isoformat()

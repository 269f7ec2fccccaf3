"""The machine a run measured on, the versions it ran, and the CPU each process spent.

Processes are found by the port they listen on (``/proc/net/tcp`` gives the socket's inode,
``/proc/<pid>/fd`` the process holding it), so the same code measures the bench's own stack or
any other; CPU is ``utime + stime`` from ``/proc/<pid>/stat``, children (PostgreSQL's backends)
included when asked.
"""

import glob
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from tests.support.infra import ROOT

TICKS = os.sysconf("SC_CLK_TCK")


def machine() -> dict[str, Any]:
    """Cores and memory (``/proc/meminfo``), the kernel and the CPU model."""
    meminfo = dict(
        line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line
    )
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or None,
    )
    return {
        "cores": os.cpu_count(),
        "memory_mb": round(int(meminfo["MemTotal"].split()[0]) / 1024),
        "memory_available_mb": round(int(meminfo["MemAvailable"].split()[0]) / 1024),
        "cpu": model,
        "kernel": platform.release(),
    }


def versions(postgres_url: str) -> dict[str, Any]:
    """Python, PostgreSQL (``SHOW server_version``) and Kafka (the broker's jars)."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    jars = sorted(glob.glob(str(ROOT / ".local" / "kafka" / "lib" / "kafka-clients-*.jar")))
    kafka = re.sub(r"^kafka-clients-|\.jar$", "", Path(jars[-1]).name) if jars else None
    return {
        "python": sys.version.split()[0],
        "postgresql": row[0] if row else None,
        "kafka": kafka,
    }


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(inode)
    return inodes


def pid_on_port(port: int) -> int | None:
    """The process listening on ``port`` (None if none we may see)."""
    wanted = {f"socket:[{i}]" for i in _listening_inodes(port)}
    if not wanted:
        return None
    for fd_dir in glob.glob("/proc/[0-9]*/fd"):
        try:
            for fd in os.listdir(fd_dir):
                if os.readlink(f"{fd_dir}/{fd}") in wanted:
                    return int(fd_dir.split("/")[2])
        except OSError:
            continue
    return None


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, own CPU seconds, CPU seconds of its children that ended) of ``pid``."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    own = (int(fields[11]) + int(fields[12])) / TICKS
    ended = (int(fields[13]) + int(fields[14])) / TICKS
    return int(fields[1]), own, ended


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """CPU seconds spent by ``pid``; with ``children``, by its children too: the live ones'
    own time, and the ended ones' (``cutime``/``cstime``), so a backend that exits between
    two readings does not take its time away with it."""
    own = _stat(pid)
    total = own[1] if own else 0.0
    if children:
        total += own[2] if own else 0.0
        for path in glob.glob("/proc/[0-9]*/stat"):
            other = int(path.split("/")[2])
            stat = _stat(other) if other != pid else None
            if stat is not None and stat[0] == pid:
                total += stat[1]
    return total


@dataclass
class CpuMeter:
    """CPU used by named processes between ``start`` and ``stop``, as % of one core."""

    pids: dict[str, tuple[int, bool]]
    """Name → (pid, count its children)."""
    _from: dict[str, float] | None = None
    _at: float = 0.0

    @classmethod
    def by_ports(
        cls, ports: dict[str, int], with_children: frozenset[str] = frozenset()
    ) -> "CpuMeter":
        found: dict[str, tuple[int, bool]] = {}
        for name, port in ports.items():
            pid = pid_on_port(port)
            if pid is not None:
                found[name] = (pid, name in with_children)
        return cls(found)

    def start(self) -> "CpuMeter":
        self._from = {n: cpu_seconds(p, children=c) for n, (p, c) in self.pids.items()}
        self._at = time.monotonic()
        return self

    def stop(self) -> dict[str, float]:
        """% of one core per process since ``start`` (100 = a full core)."""
        assert self._from is not None, "start() first"
        took = max(time.monotonic() - self._at, 1e-9)
        return {
            n: round(100 * (cpu_seconds(p, children=c) - self._from[n]) / took, 1)
            for n, (p, c) in self.pids.items()
        }


def pg_test_fsync(seconds: int = 1) -> dict[str, Any] | None:
    """``pg_test_fsync``'s ops/s for one 8 kB write and a sync, per method (``fdatasync`` is
    what a commit waits for on Linux), if the binary is installed; None otherwise. Only its
    first comparison is run: the rest is stopped."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_test_fsync"))
    if not binaries:
        return None
    scratch = ROOT / ".local" / "bench-fsync.tmp"
    figures: dict[str, float] = {}
    process = subprocess.Popen(
        [binaries[-1], "-s", str(seconds), "-f", str(scratch)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        in_first = False
        for line in process.stdout:
            if "using one 8kB write" in line:
                in_first = True
            elif in_first and line.startswith("Compare"):
                break
            elif in_first and (m := re.match(r"^\s+(\S+)\s+([\d.]+) ops/sec", line)):
                figures[m.group(1)] = float(m.group(2))
    finally:
        process.terminate()
        process.wait(timeout=30)
        scratch.unlink(missing_ok=True)
    return {
        "binary": binaries[-1],
        "fdatasync_ops_per_s": figures.get("fdatasync"),
        "one_8kB_write": figures,
    }

"""Which of our processes holds a PostgreSQL advisory lock: the backend's client port, matched
against the TCP sockets each process has open (``/proc/<pid>/fd`` and ``/proc/net/tcp``).

The faults tier kills "the relay that holds the lock", not a process picked by name.
"""

import os
from collections.abc import Iterable
from pathlib import Path

import psycopg

from tests.support.system import ServiceProcess


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    fds = Path(f"/proc/{pid}/fd")
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def local_ports(pid: int) -> set[int]:
    """The local TCP ports of the sockets process ``pid`` has open."""
    inodes = _socket_inodes(pid)
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            if len(fields) > 9 and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def advisory_lock_holder(
    database_url: str, key: int, processes: Iterable[ServiceProcess]
) -> ServiceProcess | None:
    """The process whose connection holds the advisory lock ``key`` (a 32-bit key, as
    ``pg_try_advisory_xact_lock(bigint)`` takes it) in the database of ``database_url``, or
    None when nobody of ours holds it. Advisory locks are per database: other databases on the
    server (other test runs) hold the same key for their own relays."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            """
            SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a USING (pid)
            WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()
              AND l.classid = 0 AND l.objid::bigint = %s AND l.objsubid = 1
            """,
            (key,),
        ).fetchone()
    if row is None or row[0] is None:
        return None
    port = int(row[0])
    return next((p for p in processes if p.alive() and port in local_ports(p.pid)), None)

"""Wait until a Kafka cluster answers a real request (a Metadata round trip listing a broker).

An open port is not enough: a KRaft broker accepts connections before it is unfenced.
Usage: python infra/bin/kafka_ready.py HOST:PORT [--timeout SECONDS]; exit status 0 when ready.
"""

import argparse
import asyncio
import logging
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient


async def describe(bootstrap: str) -> dict[str, object]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        cluster: dict[str, object] = await admin.describe_cluster()
        return cluster
    finally:
        await admin.close()


async def wait_ready(bootstrap: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    last: object = "no broker listed"
    while True:
        try:
            cluster = await asyncio.wait_for(describe(bootstrap), 10)
            if cluster.get("brokers"):
                print(f"\nKafka at {bootstrap} is ready: {cluster}", flush=True)
                return True
            last = cluster
        except Exception as exc:  # any failure means "not yet"; the deadline decides
            last = exc
        if time.monotonic() >= deadline:
            print(f"\nKafka at {bootstrap} not ready after {seconds:.0f}s: {last!r}", flush=True)
            return False
        print(".", end="", flush=True)
        await asyncio.sleep(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("bootstrap")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    # aiokafka logs every refused connection at ERROR; retries are expected here.
    logging.basicConfig(level=logging.CRITICAL)
    print(f"waiting for a metadata round trip with {args.bootstrap} ", end="", flush=True)
    return 0 if asyncio.run(wait_ready(args.bootstrap, args.timeout)) else 1


if __name__ == "__main__":
    sys.exit(main())

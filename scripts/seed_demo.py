"""Seed the demo keyspace into a Redis database: ``python scripts/seed_demo.py REDIS_URL [--scale N] [--flush]``."""

from __future__ import annotations

import argparse

import redis

from pgconsolidate.config import redact_url
from pgconsolidate.demo import DEMO_INDEX, seed_demo_index, seed_demo_keyspace


def main() -> None:
    """Parse arguments, optionally flush the database, seed it, print a one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("redis_url")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--flush", action="store_true", help="FLUSHDB first (the demo database only)")
    parser.add_argument("--es", help="also (re)create the demo Elasticsearch index at this URL")
    args = parser.parse_args()
    client = redis.Redis.from_url(args.redis_url)
    if args.flush:
        client.flushdb()
    summary = seed_demo_keyspace(client, scale=args.scale)
    print(f"seeded {summary.total} keys into {redact_url(args.redis_url)}")
    if args.es:
        from pgconsolidate.es.client import connect_es

        es = connect_es(args.es)
        try:
            docs = seed_demo_index(es)
        finally:
            es.close()
        print(f"indexed {docs} documents into {DEMO_INDEX} at {redact_url(args.es)}")


if __name__ == "__main__":
    main()

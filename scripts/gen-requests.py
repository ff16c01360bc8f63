#!/usr/bin/env python3
"""Writes N synthetic appointment requests as CSV, NDJSON or one JSON document.

    gen-requests.py --rows N --format csv|ndjson|json --out PATH [--seed S]

Standard library only (scripts/bench-checks and scripts/bench-memory use it
without a venv); rows are written as they are made, so memory stays small
for any N. Every row is made up. The same arguments give the same file.

The columns are those of scripts/gen-appointments.py (id, requested_at,
prior_appointment_at, first_offered_at, visit_type, urgency, prior_auth,
provider_type, extended_by_provider, region). A JSON document holds the
records in an array at "/records" (`records = "/records"` in the source).
One row in a thousand is bad (an unparsable requested_at, or an unknown
urgency), so that rejected rows are counted too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import zoneinfo

AS_OF = 1796086800  # 2026-11-30T17:00:00-08:00
ZONE = zoneinfo.ZoneInfo("America/Los_Angeles")
REGIONS = ["socal-south", "socal-north", "norcal-east", "central-valley", "inland-empire", "bay-area"]
PROVIDERS = ["non_physician_mh"] * 11 + ["psychiatrist"] * 4 + ["primary_care"] * 3 + ["specialist", "ancillary"]
COLUMNS = [
    "id", "requested_at", "prior_appointment_at", "first_offered_at", "visit_type",
    "urgency", "prior_auth", "provider_type", "extended_by_provider", "region",
]


def stamp(seconds: int, utc: bool) -> str:
    if utc:
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return dt.datetime.fromtimestamp(seconds, ZONE).isoformat()


def rows(n: int, seed: int):
    rng = random.Random(seed)
    for i in range(n):
        requested = AS_OF - rng.randrange(0, 120 * 1440) * 60
        region = rng.randrange(len(REGIONS))
        follow_up = rng.random() < 0.4
        prior = stamp(requested - rng.randrange(7, 31) * 86400, True) if follow_up else ""
        offered = ""
        if rng.random() >= 0.1:
            offered = stamp(requested + int(rng.expovariate(1 / ((4 + 2 * region) * 86400))), rng.random() < 0.5)
        row = [
            f"R{i + 1:09d}",
            stamp(requested, rng.random() < 0.5),
            prior,
            offered,
            "follow_up" if follow_up else "initial",
            "urgent" if rng.random() < 0.15 else "non_urgent",
            "true" if rng.random() < 0.2 else "false",
            PROVIDERS[rng.randrange(len(PROVIDERS))],
            "true" if rng.random() < 0.02 else "false",
            REGIONS[region],
        ]
        if i % 1000 == 500:
            row[1] = "2026-13-45T10:00:00Z"
        elif i % 1000 == 999:
            row[5] = "soon"
        yield row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--format", choices=["csv", "ndjson", "json"], required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=20261130)
    args = parser.parse_args()
    with open(args.out, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
        if args.format == "csv":
            out.write(",".join(COLUMNS) + "\n")
            for row in rows(args.rows, args.seed):
                out.write(",".join(row) + "\n")
        elif args.format == "ndjson":
            for row in rows(args.rows, args.seed):
                out.write(json.dumps(dict(zip(COLUMNS, row))) + "\n")
        else:
            out.write('{"source": "gen-requests.py", "records": [\n')
            for i, row in enumerate(rows(args.rows, args.seed)):
                out.write((",\n" if i else "") + json.dumps(dict(zip(COLUMNS, row))))
            out.write("\n]}\n")


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        sys.exit(1)

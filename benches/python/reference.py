"""An independent, row-by-row reference for the wait-time computation.

    python reference.py APPOINTMENTS.csv

Standard library only (csv, datetime, zoneinfo), one row at a time, business
days counted by walking the calendar one day at a time. Slow on purpose:
it exists to check pandas_numpy.py, duckdb_sql.py and accesswatch on small
files (tens of thousands of rows), not to be benchmarked. Prints the same
{"groups": ...} object.
"""

import csv
import datetime as dt
import re
import sys
import zoneinfo

import common as c

ZONE = zoneinfo.ZoneInfo(c.TIME_ZONE)
HOLIDAYS = set(c.HOLIDAYS)
# RFC 3339 date-time: a full date, "T" (or "t" / a space, which RFC 3339
# allows), a full time with optional fraction, and Z or a numeric offset.
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def parse_instant(text: str):
    """RFC 3339 with an offset or Z -> aware datetime; None if empty or invalid."""
    if not RFC3339.fullmatch(text):
        return None
    try:
        return dt.datetime.fromisoformat(text.upper().replace(" ", "T"))
    except ValueError:
        return None


def business_days_after(start: dt.date, end: dt.date) -> int:
    """Number of business days d with start < d <= end."""
    n = 0
    d = start + dt.timedelta(days=1)
    while d <= end:
        if d.weekday() < 5 and d not in HOLIDAYS:
            n += 1
        d += dt.timedelta(days=1)
    return n


def main(path: str) -> None:
    as_of = dt.datetime.fromisoformat(c.AS_OF)
    window_start = as_of - dt.timedelta(hours=c.WINDOW_HOURS)
    as_of_date = as_of.astimezone(ZONE).date()

    groups = {}  # region -> {"counts": {...}, "waits": [...], "overdue_open": n}

    def group(region):
        return groups.setdefault(
            region or c.NO_REGION,
            {"counts": dict.fromkeys(c.COUNT_KEYS, 0), "waits": [], "overdue_open": 0},
        )

    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            g = group(row["region"])
            counts = g["counts"]

            # 1. The clock start.
            requested = parse_instant(row["requested_at"])
            if requested is None:
                counts["rejected"] += 1
                continue
            if not (window_start <= requested <= as_of):
                continue

            # 2. Known values only.
            extended_text = row["extended_by_provider"] or "false"
            if (
                row["visit_type"] not in c.VISIT_TYPES
                or row["urgency"] not in c.URGENCIES
                or row["provider_type"] not in c.PROVIDER_TYPES
                or row["prior_auth"] not in c.BOOLEANS
                or extended_text not in c.BOOLEANS
            ):
                counts["rejected"] += 1
                continue

            # 3. The standard's selection.
            if not (
                row["visit_type"] == c.SELECT_VISIT_TYPE
                and row["urgency"] == c.SELECT_URGENCY
                and row["provider_type"] == c.SELECT_PROVIDER_TYPE
            ):
                continue

            # 4. The offer.
            request_date = requested.astimezone(ZONE).date()
            wait = None
            if row["first_offered_at"] != "":
                offered = parse_instant(row["first_offered_at"])
                if offered is None or offered < requested:
                    counts["rejected"] += 1
                    continue
                wait = business_days_after(request_date, offered.astimezone(ZONE).date())
                g["waits"].append(wait)

            # 5.-7. The outcome.
            if extended_text == "true":
                counts["compliant"] += 1
                counts["extended"] += 1
            elif wait is not None:
                counts["compliant" if wait <= c.LIMIT_BD else "noncompliant"] += 1
            elif business_days_after(request_date, as_of_date) > c.LIMIT_BD:
                counts["noncompliant"] += 1
                g["overdue_open"] += 1
            else:
                counts["pending"] += 1

    out = {}
    for region, g in groups.items():
        if not any(g["counts"].values()):
            continue  # only skipped rows
        waits = sorted(g["waits"])
        out[region] = c.group_result(
            g["counts"],
            c.nearest_rank(waits, c.Q_MEDIAN),
            c.nearest_rank(waits, c.Q_P90),
            g["overdue_open"],
        )
    c.dump(out)


if __name__ == "__main__":
    main(sys.argv[1])

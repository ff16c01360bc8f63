"""Shared pieces of the wait-time benchmark's Python side.

Imported by pandas_numpy.py, duckdb_sql.py and reference.py so that the three
use the same parameters, holidays and output format. Standard library only.

Also a small command-line tool used by scripts/bench:

    python common.py from-accesswatch REPORT.json      # accesswatch's `run --once
                                                       # --report json` -> {"groups": ...}
    python common.py compare NAME=FILE NAME=FILE ...   # exit 1 with a diff if they differ
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import sys

# --- The computation's parameters (see scripts/bench and benches/bench.toml.in) ---

AS_OF = "2026-11-30T17:00:00-08:00"
TIME_ZONE = "America/Los_Angeles"
WINDOW_HOURS = 30 * 24  # as_of - 30 days <= t <= as_of, as instants (the start is inside)
LIMIT_BD = 10  # ca-dmhc/non-urgent-mh-initial: 10 business days
Q_MEDIAN = 0.5
Q_P90 = 0.9
NO_REGION = "(none)"

# Selection of ca-dmhc/non-urgent-mh-initial.
SELECT_VISIT_TYPE = "initial"
SELECT_URGENCY = "non_urgent"
SELECT_PROVIDER_TYPE = "non_physician_mh"

# Canonical values; anything else rejects the row.
VISIT_TYPES = ("initial", "follow_up")
URGENCIES = ("non_urgent", "urgent")
PROVIDER_TYPES = ("non_physician_mh", "psychiatrist", "primary_care", "specialist", "ancillary")
BOOLEANS = ("true", "false")

COLUMNS = (
    "id",
    "requested_at",
    "prior_appointment_at",
    "first_offered_at",
    "visit_type",
    "urgency",
    "prior_auth",
    "provider_type",
    "extended_by_provider",
    "region",
)

HOLIDAY_YEARS = range(2020, 2031)  # 2020..2030 inclusive

COUNT_KEYS = ("compliant", "noncompliant", "pending", "extended", "rejected")


# --- us-federal calendar (5 U.S.C. 6103) ---


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> _dt.date:
    """The n-th (1-based) `weekday` (Mon=0) of the month."""
    first = _dt.date(year, month, 1)
    return first + _dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> _dt.date:
    nxt = _dt.date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - _dt.timedelta(days=1)
    return last - _dt.timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: _dt.date) -> _dt.date:
    """Saturday -> the Friday before, Sunday -> the Monday after."""
    if day.weekday() == 5:
        return day - _dt.timedelta(days=1)
    if day.weekday() == 6:
        return day + _dt.timedelta(days=1)
    return day


def us_federal_holidays_of(year: int) -> list[_dt.date]:
    """The observed dates of the year's legal public holidays.

    New Year's Day on a Saturday is observed on 31 December of the year before,
    so that date is in the list of `year`, not of `year - 1`.
    """
    mon, thu = 0, 3
    days = [
        _observed(_dt.date(year, 1, 1)),  # New Year's Day
        _nth_weekday(year, 1, mon, 3),  # Birthday of Martin Luther King, Jr.
        _nth_weekday(year, 2, mon, 3),  # Washington's Birthday
        _last_weekday(year, 5, mon),  # Memorial Day
        _observed(_dt.date(year, 7, 4)),  # Independence Day
        _nth_weekday(year, 9, mon, 1),  # Labor Day
        _nth_weekday(year, 10, mon, 2),  # Columbus Day
        _observed(_dt.date(year, 11, 11)),  # Veterans Day
        _nth_weekday(year, 11, thu, 4),  # Thanksgiving Day
        _observed(_dt.date(year, 12, 25)),  # Christmas Day
    ]
    if year >= 2021:
        days.append(_observed(_dt.date(year, 6, 19)))  # Juneteenth
    return sorted(days)


def us_federal_holidays(years=HOLIDAY_YEARS) -> list[_dt.date]:
    return sorted(d for y in years for d in us_federal_holidays_of(y))


HOLIDAYS = us_federal_holidays()
HOLIDAY_STRINGS = [d.isoformat() for d in HOLIDAYS]


# --- Output ---


def nearest_rank(sorted_values, q: float):
    """Nearest-rank quantile: the value at 1-based rank ceil(q * n); None if n = 0."""
    n = len(sorted_values)
    if n == 0:
        return None
    return sorted_values[math.ceil(q * n) - 1]


def group_result(counts: dict, median_wait, p90_wait, overdue_open: int) -> dict:
    counts = {k: int(counts[k]) for k in COUNT_KEYS}
    decided = counts["compliant"] + counts["noncompliant"]
    return {
        "counts": counts,
        "rate": counts["compliant"] / decided if decided else None,
        "median_wait": None if median_wait is None else int(median_wait),
        "p90_wait": None if p90_wait is None else int(p90_wait),
        "overdue_open": int(overdue_open),
    }


def dump(groups: dict, out=None) -> None:
    """Prints {"groups": {REGION: {...}}} as one JSON object, keys sorted."""
    out = out or sys.stdout
    json.dump({"groups": groups}, out, sort_keys=True, separators=(",", ":"))
    out.write("\n")


# --- accesswatch adapter and comparison (used by scripts/bench) ---


def _int_or_none(value):
    if value is None:
        return None
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"expected a whole number of business days, got {value}")
        return int(value)
    return int(value)


def from_accesswatch(report: dict, check_id: str = "mh-initial", label: str = "region") -> dict:
    """accesswatch's JSON report -> {"groups": {...}} in this file's shape."""
    checks = [c for c in report.get("checks", []) if c.get("id") == check_id]
    if len(checks) != 1:
        raise ValueError(f"expected exactly one check with id {check_id!r} in the report, found {len(checks)}")
    groups = {}
    for g in checks[0].get("groups", []):
        region = (g.get("labels") or {}).get(label)
        if region is None or region == "":
            region = NO_REGION
        if region in groups:
            raise ValueError(f"group {region!r} appears twice in the report")
        counts = g.get("counts") or {}
        missing = [k for k in COUNT_KEYS if k not in counts]
        if missing:
            raise ValueError(f"group {region!r}: counts lack {missing}")
        groups[region] = {
            "counts": {k: int(counts[k]) for k in COUNT_KEYS},
            "rate": None if g.get("rate") is None else float(g["rate"]),
            "median_wait": _int_or_none(g.get("median_wait")),
            "p90_wait": _int_or_none(g.get("p90_wait")),
            "overdue_open": int(g.get("overdue_open") or 0),
        }
    return {"groups": groups}


def _normalized(doc: dict) -> dict:
    """Drops groups in which no row was counted (an implementation may list them or not)."""
    return {
        region: g
        for region, g in doc["groups"].items()
        if any(g["counts"][k] for k in COUNT_KEYS)
    }


def differences(a: dict, b: dict, tolerance: float = 1e-9) -> list[str]:
    """Where two {"groups": ...} documents differ; rates compared within `tolerance`."""
    ga, gb = _normalized(a), _normalized(b)
    out = []
    for region in sorted(set(ga) | set(gb)):
        if region not in ga or region not in gb:
            out.append(f"{region}: only in {'first' if region in ga else 'second'}")
            continue
        x, y = ga[region], gb[region]
        for k in COUNT_KEYS:
            if x["counts"][k] != y["counts"][k]:
                out.append(f"{region}: counts.{k} {x['counts'][k]} != {y['counts'][k]}")
        for k in ("median_wait", "p90_wait", "overdue_open"):
            if x[k] != y[k]:
                out.append(f"{region}: {k} {x[k]} != {y[k]}")
        rx, ry = x["rate"], y["rate"]
        if (rx is None) != (ry is None) or (rx is not None and abs(rx - ry) > tolerance):
            out.append(f"{region}: rate {rx} != {ry}")
    return out


def _main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "from-accesswatch":
        with open(argv[1], encoding="utf-8") as f:
            report = json.load(f)
        dump(from_accesswatch(report)["groups"])
        return 0
    if len(argv) >= 3 and argv[0] == "compare":
        docs = []
        for arg in argv[1:]:
            name, sep, path = arg.partition("=")
            if not sep:
                name, path = arg, arg
            with open(path, encoding="utf-8") as f:
                docs.append((name, json.load(f)))
        base_name, base = docs[0]
        failed = False
        for name, doc in docs[1:]:
            diff = differences(base, doc)
            if diff:
                failed = True
                print(f"MISMATCH {base_name} vs {name} ({len(diff)} differences):", file=sys.stderr)
                for line in diff:
                    print(f"  {line}", file=sys.stderr)
        if not failed:
            names = ", ".join(n for n, _ in docs)
            print(f"identical results: {names} ({len(_normalized(base))} groups)")
        return 1 if failed else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

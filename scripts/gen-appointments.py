#!/usr/bin/env python3
"""Writes N synthetic appointment requests as CSV, for the wait-time benchmark and demos.

    gen-appointments.py --rows N --seed S --as-of RFC3339 --out PATH
                        [--bad-share F] [--days D]

Every row is made up (ids R00000001, ...); nothing comes from real data. The
output depends only on the arguments: the same seed gives the same file, byte
for byte, whatever the machine. Rows are made and written in chunks of
200,000, so memory stays bounded for any N. Needs numpy.

Columns:
  id                    "R" + a zero-padded number
  requested_at          uniform over the D days before --as-of, whole minutes;
                        about half as UTC ("...Z"), half in America/Los_Angeles
                        local time with that instant's offset (-08:00 / -07:00)
  prior_appointment_at  follow_up rows only: 7-30 days before requested_at
  first_offered_at      empty for ~10 % (still waiting), else requested_at plus
                        a wait drawn per region (socal-south slow: ~40 % over 14
                        calendar days; bay-area fast)
  visit_type            initial 60 % / follow_up 40 %
  urgency               non_urgent 85 % / urgent 15 %
  prior_auth            "true" 20 % / "false"
  provider_type         non_physician_mh 55 %, psychiatrist 20 %, primary_care 15 %,
                        specialist 7 %, ancillary 3 %
  extended_by_provider  "true" ~2 % / "false"
  region                six regions; ~0.1 % empty

Bad rows (--bad-share of them, default 0.001, spread evenly through the file),
taking turns at: an unparsable requested_at ("2026-13-45T10:00:00Z"), an
unknown urgency ("soon"), an offer one day before the request, an empty
requested_at.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import zoneinfo

import numpy as np

HEADER = (
    "id,requested_at,prior_appointment_at,first_offered_at,visit_type,"
    "urgency,prior_auth,provider_type,extended_by_provider,region"
)
CHUNK = 200_000  # part of the format: changing it changes the rows a seed gives
LOCAL_ZONE = zoneinfo.ZoneInfo("America/Los_Angeles")

VISIT_TYPES = (["initial", "follow_up"], [0.60, 0.40])
URGENCIES = (["non_urgent", "urgent"], [0.85, 0.15])
PROVIDER_TYPES = (
    ["non_physician_mh", "psychiatrist", "primary_care", "specialist", "ancillary"],
    [0.55, 0.20, 0.15, 0.07, 0.03],
)
# Region, share of rows, mean wait in days (exponential). With mean m the share
# waiting over 14 calendar days is exp(-14/m): socal-south 15.3 -> 40 %,
# central-valley 11 -> 28 %, socal-north 9 -> 21 %, inland-empire 8 -> 17 %,
# norcal-east 7 -> 14 %, bay-area 4 -> 3 %.
REGIONS = [
    ("socal-south", 0.240, 14 / math.log(1 / 0.40)),
    ("socal-north", 0.200, 9.0),
    ("norcal-east", 0.110, 7.0),
    ("central-valley", 0.120, 11.0),
    ("inland-empire", 0.130, 8.0),
    ("bay-area", 0.199, 4.0),
    ("", 0.001, 8.0),
]
NOT_OFFERED_SHARE = 0.10
PRIOR_AUTH_SHARE = 0.20
EXTENDED_SHARE = 0.02
UTC_SHARE = 0.5
BAD_KINDS = 4  # unparsable requested_at, unknown urgency, offer before request, empty requested_at


def parse_rfc3339(text: str) -> int:
    """RFC 3339 with an offset or Z -> epoch seconds."""
    t = dt.datetime.fromisoformat(text.strip())
    if t.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no offset (use Z or e.g. -08:00)")
    return int(t.timestamp())


def local_offsets(epoch_s: np.ndarray) -> np.ndarray:
    """America/Los_Angeles UTC offset in seconds at each instant.

    Its offset changes only at whole UTC hours, so it is looked up once per
    distinct hour.
    """
    hours, inverse = np.unique(epoch_s // 3600, return_inverse=True)
    per_hour = np.array(
        [
            int(dt.datetime.fromtimestamp(int(h) * 3600, LOCAL_ZONE).utcoffset().total_seconds())
            for h in hours
        ],
        dtype=np.int64,
    )
    return per_hour[inverse.reshape(-1)]


def format_instants(epoch_s: np.ndarray, utc: np.ndarray) -> np.ndarray:
    """RFC 3339 strings: "...Z" where `utc`, else local time with its offset."""
    offsets = np.where(utc, 0, local_offsets(epoch_s))
    wall = (epoch_s + offsets).astype("datetime64[s]")
    text = np.datetime_as_string(wall, unit="s")
    suffix = np.where(utc, "Z", np.where(offsets == -8 * 3600, "-08:00", "-07:00"))
    if not np.all(np.isin(offsets[~utc], (-8 * 3600, -7 * 3600))):
        raise AssertionError("unexpected America/Los_Angeles offset")
    return np.char.add(text, suffix)


def pick(rng: np.random.Generator, n: int, values_and_shares) -> np.ndarray:
    values, shares = values_and_shares
    cum = np.cumsum(shares)
    cum[-1] = 1.0
    return np.asarray(values)[np.searchsorted(cum, rng.random(n), side="right")]


def bad_positions(rows: int, share: float) -> np.ndarray:
    """0-based row numbers of the bad rows, evenly spread (the middle of equal slices)."""
    count = min(rows, round(rows * share))
    j = np.arange(count, dtype=np.int64)
    return (2 * j + 1) * rows // (2 * count) if count else j


def make_chunk(seed: int, index: int, start: int, stop: int, as_of: int, days: int,
               bad_rows: np.ndarray, id_width: int) -> list[str]:
    rng = np.random.default_rng([seed, index])
    n = stop - start
    empty = np.full(n, "", dtype=object)

    requested = as_of - rng.integers(0, days * 1440, size=n, endpoint=True) * 60
    visit_type = pick(rng, n, VISIT_TYPES)
    urgency = pick(rng, n, URGENCIES).astype(object)
    provider_type = pick(rng, n, PROVIDER_TYPES)
    prior_auth = np.where(rng.random(n) < PRIOR_AUTH_SHARE, "true", "false")
    extended = np.where(rng.random(n) < EXTENDED_SHARE, "true", "false")

    region_idx = pick(rng, n, (list(range(len(REGIONS))), [r[1] for r in REGIONS]))
    region = np.array([r[0] for r in REGIONS], dtype=object)[region_idx]
    mean_wait_min = np.array([r[2] * 1440 for r in REGIONS])[region_idx]
    offered = rng.random(n) >= NOT_OFFERED_SHARE
    wait_min = np.rint(rng.exponential(1.0, n) * mean_wait_min).astype(np.int64)
    first_offered = requested + wait_min * 60

    follow_up = visit_type == "follow_up"
    prior = requested - rng.integers(7 * 1440, 30 * 1440, size=n, endpoint=True) * 60

    req_utc = rng.random(n) < UTC_SHARE
    off_utc = rng.random(n) < UTC_SHARE
    prior_utc = rng.random(n) < UTC_SHARE

    requested_s = format_instants(requested, req_utc).astype(object)
    offered_s = np.where(offered, format_instants(first_offered, off_utc).astype(object), empty)
    prior_s = np.where(follow_up, format_instants(prior, prior_utc).astype(object), empty)

    # Bad rows: the kind follows the bad row's number in the whole file.
    lo, hi = np.searchsorted(bad_rows, [start, stop])
    for k, row in zip(range(lo, hi), bad_rows[lo:hi]):
        i = row - start
        kind = k % BAD_KINDS
        if kind == 0:
            requested_s[i] = "2026-13-45T10:00:00Z"
        elif kind == 1:
            urgency[i] = "soon"
        elif kind == 2:
            offered_s[i] = format_instants(requested[i : i + 1] - 86400, req_utc[i : i + 1])[0]
        else:
            requested_s[i] = ""

    ids = np.char.add("R", np.char.zfill(np.arange(start + 1, stop + 1).astype(str), id_width))
    columns = [
        ids.tolist(),
        requested_s.tolist(),
        prior_s.tolist(),
        offered_s.tolist(),
        visit_type.tolist(),
        urgency.tolist(),
        prior_auth.tolist(),
        provider_type.tolist(),
        extended.tolist(),
        region.tolist(),
    ]
    return [",".join(r) for r in zip(*columns)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, required=True, help="number of data rows")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--as-of", type=parse_rfc3339, required=True, metavar="RFC3339",
                   help="requests fall in the --days days up to this instant")
    p.add_argument("--out", required=True, help="CSV file to write ('-' for standard output)")
    p.add_argument("--bad-share", type=float, default=0.001, help="share of bad rows (default 0.001)")
    p.add_argument("--days", type=int, default=60, help="span of requested_at in days (default 60)")
    a = p.parse_args(argv)
    if a.rows < 0 or a.seed < 0 or a.days < 1 or not 0 <= a.bad_share <= 1:
        p.error("need --rows >= 0, --seed >= 0, --days >= 1 and 0 <= --bad-share <= 1")

    as_of = a.as_of - a.as_of % 60  # whole minutes
    bad_rows = bad_positions(a.rows, a.bad_share)
    id_width = max(8, len(str(a.rows)))

    out = sys.stdout if a.out == "-" else open(a.out, "w", encoding="ascii", newline="")
    try:
        out.write(HEADER + "\n")
        for index, start in enumerate(range(0, a.rows, CHUNK)):
            stop = min(start + CHUNK, a.rows)
            lines = make_chunk(a.seed, index, start, stop, as_of, a.days, bad_rows, id_width)
            out.write("\n".join(lines))
            out.write("\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

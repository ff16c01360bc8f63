"""The wait-time computation written plainly with pandas and numpy.

    python pandas_numpy.py APPOINTMENTS.csv

Prints {"groups": {REGION: {...}}} (see common.py). Standard
ca-dmhc/non-urgent-mh-initial as of 2026-11-30T17:00:00-08:00, America/Los_Angeles,
us-federal holidays, per region. Business days with numpy.busday_count.
"""

import sys

import numpy as np
import pandas as pd

import common as c


def local_dates(instants: pd.Series) -> np.ndarray:
    """UTC instants -> their local calendar dates (datetime64[D])."""
    return instants.dt.tz_convert(c.TIME_ZONE).dt.tz_localize(None).to_numpy().astype("datetime64[D]")


def main(path: str) -> None:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)

    as_of = pd.Timestamp(c.AS_OF).tz_convert("UTC")
    as_of_date = np.datetime64(as_of.tz_convert(c.TIME_ZONE).date(), "D")
    holidays = np.array(c.HOLIDAY_STRINGS, dtype="datetime64[D]")
    one_day = np.timedelta64(1, "D")

    df["region"] = df["region"].replace("", c.NO_REGION)
    requested = pd.to_datetime(df["requested_at"], utc=True, errors="coerce", format="ISO8601")

    # 1. Unparsable or missing request time: rejected. Outside the window: skipped.
    bad_request = requested.isna()
    in_window = (requested >= as_of - pd.Timedelta(hours=c.WINDOW_HOURS)) & (requested <= as_of)

    # 2. Unknown values: rejected.
    valid = (
        df["visit_type"].isin(c.VISIT_TYPES)
        & df["urgency"].isin(c.URGENCIES)
        & df["provider_type"].isin(c.PROVIDER_TYPES)
        & df["prior_auth"].isin(c.BOOLEANS)
        & df["extended_by_provider"].isin(c.BOOLEANS + ("",))
    )
    bad_value = in_window & ~valid

    # 3. The standard's selection.
    selected = (
        in_window
        & valid
        & (df["visit_type"] == c.SELECT_VISIT_TYPE)
        & (df["urgency"] == c.SELECT_URGENCY)
        & (df["provider_type"] == c.SELECT_PROVIDER_TYPE)
    )
    rows = df.loc[selected, ["region", "first_offered_at", "extended_by_provider"]].copy()
    rows["requested"] = requested[selected]

    # 4. The offer: unparsable or before the request: rejected.
    rows["offered"] = rows["first_offered_at"] != ""
    offer_time = pd.to_datetime(rows["first_offered_at"], utc=True, errors="coerce", format="ISO8601")
    bad_offer = rows["offered"] & (offer_time.isna() | (offer_time < rows["requested"]))
    rows = rows[~bad_offer]
    offer_time = offer_time[~bad_offer]

    req_date = local_dates(rows["requested"])
    wait = np.full(len(rows), -1, dtype=np.int64)
    offered = rows["offered"].to_numpy()
    wait[offered] = np.busday_count(
        req_date[offered] + one_day, local_dates(offer_time[offered]) + one_day, holidays=holidays
    )
    elapsed = np.busday_count(req_date + one_day, as_of_date + one_day, holidays=holidays)

    # 5.-7. The outcome.
    extended = (rows["extended_by_provider"] == "true").to_numpy()
    rows["wait"] = wait
    rows["extended"] = extended
    rows["compliant"] = extended | (offered & (wait <= c.LIMIT_BD))
    rows["noncompliant"] = ~extended & offered & (wait > c.LIMIT_BD)
    rows["overdue_open"] = ~extended & ~offered & (elapsed > c.LIMIT_BD)
    rows["noncompliant"] |= rows["overdue_open"]
    rows["pending"] = ~extended & ~offered & (elapsed <= c.LIMIT_BD)

    counts = rows.groupby("region")[["compliant", "noncompliant", "pending", "extended", "overdue_open"]].sum()
    rejected = (
        pd.concat(
            [
                df.loc[bad_request | bad_value, "region"],
                df.loc[selected, "region"][bad_offer],
            ]
        )
        .value_counts()
        .rename("rejected")
    )
    counts = counts.join(rejected, how="outer").fillna(0).astype(np.int64)

    waits = rows.loc[rows["offered"], ["region", "wait"]].groupby("region")["wait"]
    quantiles = {
        region: (
            np.percentile(w, c.Q_MEDIAN * 100, method="inverted_cdf"),
            np.percentile(w, c.Q_P90 * 100, method="inverted_cdf"),
        )
        for region, w in waits
    }

    groups = {}
    for region, r in counts.iterrows():
        median, p90 = quantiles.get(region, (None, None))
        groups[region] = c.group_result(r, median, p90, r["overdue_open"])
    c.dump(groups)


if __name__ == "__main__":
    main(sys.argv[1])

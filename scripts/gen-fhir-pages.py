#!/usr/bin/env python3
"""Writes a FHIR R4 Appointment search as page files, for scripts/bench-memory-remote.

    gen-fhir-pages.py --appointments N --pages P --out DIR [--seed S]

DIR/page-K.json (K from 1 to P) is searchset Bundle K, whose `next` link is
the relative URL "Appointment?page=K+1" (resolved against the page's own
URL, as the client resolves it); the last page has none. Each Appointment
is made up like a row of scripts/gen-requests.py: requested (`created`)
within 120 days of 2026-11-30, offered (`start`) a few days later or not
yet (`status` proposed), a v2-0276 appointmentType (ROUTINE or
FOLLOWUP), a NUCC specialty, a region extension, a participant Patient
reference (never read) and `meta.lastUpdated`. Standard library only;
pages are written one at a time, so memory stays small for any N. The same
arguments give the same pages.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random

AS_OF = 1796086800  # 2026-11-30T17:00:00-08:00
REGIONS = ["socal-south", "socal-north", "norcal-east", "central-valley", "inland-empire", "bay-area"]
# NUCC codes: counselor, clinical social worker, psychologist, psychiatry.
SPECIALTIES = ["101YP2500X", "1041C0700X", "103T00000X", "2084P0800X"]
REGION_URL = "http://plan.example/fhir/StructureDefinition/region"


def stamp(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def appointment(i: int, rng: random.Random) -> dict:
    requested = AS_OF - rng.randrange(0, 120 * 1440) * 60
    region = rng.randrange(len(REGIONS))
    resource = {
        "resourceType": "Appointment",
        "id": f"a{i:09d}",
        "meta": {"lastUpdated": stamp(requested + 3600)},
        "extension": [{"url": REGION_URL, "valueString": REGIONS[region]}],
        "status": "booked",
        "appointmentType": {
            "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v2-0276",
                "code": "FOLLOWUP" if rng.random() < 0.4 else "ROUTINE",
            }]
        },
        "specialty": [{
            "coding": [{"system": "http://nucc.org/provider-taxonomy", "code": rng.choice(SPECIALTIES)}]
        }],
        "created": stamp(requested),
        "participant": [
            {"actor": {"reference": f"Patient/p{rng.randrange(10**8)}"}, "status": "accepted"},
            {"actor": {"reference": f"PractitionerRole/r{rng.randrange(5000)}"}, "status": "accepted"},
        ],
    }
    if rng.random() < 0.1:
        resource["status"] = "proposed"
        resource["participant"][1]["status"] = "needs-action"
    else:
        start = requested + int(rng.expovariate(1 / ((4 + 2 * region) * 86400)))
        resource["start"] = stamp(start)
        resource["end"] = stamp(start + 3000)
    return resource


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appointments", type=int, required=True)
    parser.add_argument("--pages", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=20261130)
    args = parser.parse_args()
    if args.pages < 1 or args.appointments < args.pages:
        parser.error("need at least one appointment per page")
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(args.seed)
    per_page, extra = divmod(args.appointments, args.pages)
    first = 0
    for page in range(1, args.pages + 1):
        count = per_page + (1 if page <= extra else 0)
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [
                {
                    "fullUrl": f"http://fhir.example/fhir/Appointment/a{i:09d}",
                    "resource": appointment(i, rng),
                    "search": {"mode": "match"},
                }
                for i in range(first, first + count)
            ],
        }
        if page < args.pages:
            bundle["link"] = [{"relation": "next", "url": f"Appointment?page={page + 1}"}]
        first += count
        path = os.path.join(args.out, f"page-{page}.json")
        with open(path + ".tmp", "w", encoding="utf-8") as out:
            json.dump(bundle, out, separators=(",", ":"))
        os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()

# A throwaway PostgreSQL for the benchmarks (sourced by scripts/bench-*):
#   start_postgres      initdb into a temporary directory (as `nobody` when
#                       run as root, as the tests do) and start the server on
#                       a free port on 127.0.0.1 (fsync off); sets $pg_port and
#                       $pg_bin, defines psql, and removes the cluster on exit.
#                       The server binaries are ACCESSWATCH_PG_BIN or the
#                       newest /usr/lib/postgresql/*/bin.
#   load_requests ROWS  one table `requests` of ROWS synthetic appointment
#                       requests from generate_series (fixed arithmetic, the
#                       same rows every time): 8 regions, every fifth an
#                       initial non-urgent request to a non-physician
#                       clinician, a tenth never offered, offers up to 25
#                       days later, a few extended; all in the 30 days before
#                       2026-11-30T17:00-08:00. Sets $load_seconds and $size.

start_postgres() {
    pg_bin=${ACCESSWATCH_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
    [ -x "$pg_bin/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
    pg_work=$(mktemp -d /tmp/accesswatch-bench-pg.XXXXXX)
    as_server=()
    if [ "$(id -u)" = 0 ]; then
        chown nobody "$pg_work"
        as_server=(runuser -u nobody --)
    fi
    pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    trap stop_postgres EXIT
    echo "==> initdb and start PostgreSQL on 127.0.0.1:$pg_port" >&2
    "${as_server[@]}" "$pg_bin/initdb" -D "$pg_work/data" -U postgres --auth=trust -E UTF8 --no-locale \
        --no-sync --no-instructions >/dev/null
    "${as_server[@]}" "$pg_bin/pg_ctl" -D "$pg_work/data" -l "$pg_work/server.log" -w -o \
        "-p $pg_port -k $pg_work -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c shared_buffers=512MB -c max_wal_size=4GB" \
        start >/dev/null
}

stop_postgres() {
    "${as_server[@]}" "$pg_bin/pg_ctl" -D "$pg_work/data" stop -m immediate >/dev/null 2>&1 || true
    rm -rf "$pg_work"
}

psql() { "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$pg_work" -p "$pg_port" -U postgres "$@"; }

load_requests() {
    local rows=$1 started
    echo "==> loading $rows rows" >&2
    started=$(date +%s)
    psql -d postgres <<SQL
CREATE UNLOGGED TABLE requests (
    id bigint,
    requested_at timestamptz NOT NULL,
    first_offered_at timestamptz,
    visit_type text,
    urgency text,
    prior_auth boolean,
    provider_type text,
    extended_by_provider boolean,
    region text
);
INSERT INTO requests
SELECT g,
  timestamptz '2026-11-30 17:00-08' - ((g * 7919) % (30 * 24 * 3600 - 1)) * interval '1 second',
  NULL, (ARRAY['initial', 'follow_up'])[1 + (g % 5 = 0)::int],
  (ARRAY['non_urgent', 'urgent', 'non_urgent'])[1 + g % 3],
  false,
  (ARRAY['non_physician_mh', 'psychiatrist', 'non_physician_sud', 'primary_care'])[1 + g % 4],
  g % 53 = 0,
  'region-' || (g % 8)
FROM generate_series(1::int8, $rows) AS g;
UPDATE requests SET first_offered_at = requested_at + ((id * 48271) % (25 * 24 * 60)) * interval '1 minute'
  WHERE id % 10 <> 0;
VACUUM ANALYZE requests;
SQL
    load_seconds=$(( $(date +%s) - started ))
    size=$(psql -d postgres -At -c "SELECT pg_size_pretty(pg_total_relation_size('requests'))")
    echo "==> loaded in ${load_seconds}s ($size)" >&2
}

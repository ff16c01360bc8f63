//! PostgreSQL sources against a real PostgreSQL server: a wait-time check
//! fed by a query end to end, value conversions, the statement timeout,
//! authentication and connection failures, and the three TLS modes.
//!
//! One throwaway server serves the whole test binary ([`PgServer`]): initdb
//! into a temporary directory (as `nobody` when the tests run as root,
//! since PostgreSQL refuses to run as root), TLS on with a certificate of a
//! private CA for 127.0.0.1, password (SCRAM) authentication over TCP and
//! trust over its Unix socket for setting up. Each test uses a database of
//! its own. scripts/test installs PostgreSQL and exports
//! `ACCESSWATCH_PG_BIN`. With `ACCESSWATCH_PG_CITUS=1` (scripts/test-citus)
//! every server preloads Citus, for tests/it/citus.rs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::{self, Certificate, ConfigText, accesswatch};

pub(crate) const USER: &str = "aw";
pub(crate) const PASSWORD: &str = "pg-test-S3cret";

/// A PostgreSQL server for this test binary. Statics are never dropped,
/// so a watcher process stops the server and removes its directory once
/// the test binary has exited (however it exited).
pub(crate) struct PgServer {
    bin: PathBuf,
    pub(crate) port: u16,
    pub(crate) socket_dir: PathBuf,
    data: PathBuf,
    options: String,
    pub(crate) log: PathBuf,
    /// The CA that signed the server's certificate.
    ca: PathBuf,
    /// Outlives this process on purpose: it stops the server after us.
    _watcher: Child,
}

pub(crate) fn server() -> &'static PgServer {
    static SERVER: OnceLock<PgServer> = OnceLock::new();
    SERVER.get_or_init(PgServer::start)
}

/// The directory of initdb, pg_ctl and psql: `ACCESSWATCH_PG_BIN`, else
/// the newest /usr/lib/postgresql/*/bin.
fn pg_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("ACCESSWATCH_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop().expect(
        "PostgreSQL server binaries not found: run the tests with scripts/test, \
         which installs postgresql and sets ACCESSWATCH_PG_BIN",
    )
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `program args…`, as `nobody` when we are root.
fn as_server_user(program: &Path) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "nobody", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl PgServer {
    /// A server of its own (for a test that stops it), stopped and removed
    /// when the test binary exits.
    pub(crate) fn start() -> PgServer {
        let bin = pg_bin();
        let root = tempfile::Builder::new()
            .prefix("accesswatch-pg-")
            .tempdir()
            .unwrap()
            .keep();
        let tls = root.join("tls");
        std::fs::create_dir(&tls).unwrap();
        let Certificate { ca, cert, key } = common::certificate(&tls);
        std::fs::copy(&cert, root.join("server.crt")).unwrap();
        std::fs::copy(&key, root.join("server.key")).unwrap();
        let socket_dir = root.join("socket");
        std::fs::create_dir(&socket_dir).unwrap();
        if running_as_root() {
            run(
                Command::new("chown").args(["-R", "nobody"]).arg(&root),
                "chown",
            );
        }
        // PostgreSQL refuses a key file that others can read.
        run(
            Command::new("chmod")
                .arg("600")
                .arg(root.join("server.key")),
            "chmod",
        );
        let data = root.join("data");
        run(
            as_server_user(&bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    "postgres",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",
                    "--no-instructions",
                ]),
            "initdb",
        );
        let port = common::free_port();
        let mut options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file={} \
             -c ssl_key_file={} -c fsync=off -c full_page_writes=off",
            socket_dir.display(),
            root.join("server.crt").display(),
            root.join("server.key").display()
        );
        if crate::citus::enabled() {
            options += " -c shared_preload_libraries=citus";
        }
        // Null stdio: the server must not hold the test's output pipes.
        let status = as_server_user(&bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(root.join("server.log"))
            .args(["-w", "-t", "30", "-o", &options, "start"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        if !status.success() {
            let log = std::fs::read_to_string(root.join("server.log")).unwrap_or_default();
            panic!("pg_ctl start failed ({status}):\n{log}");
        }
        let watcher = Self::watch(&bin, &data, &root);
        let server = PgServer {
            bin,
            port,
            socket_dir,
            data,
            options,
            log: root.join("server.log"),
            ca,
            _watcher: watcher,
        };
        server.sql(
            "postgres",
            "postgres",
            &format!("CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'"),
        );
        server
    }

    /// Stops the server and removes `root` once this process has exited.
    fn watch(bin: &Path, data: &Path, root: &Path) -> Child {
        let stop = if running_as_root() {
            "runuser -u nobody -- \"$1\" -D \"$2\" stop -m immediate"
        } else {
            "\"$1\" -D \"$2\" stop -m immediate"
        };
        // A poll: the shell cannot wait for a process that is not its child.
        let script = format!(
            "while kill -0 {} 2>/dev/null; do sleep 0.5; done; {stop}; rm -rf \"$3\"",
            std::process::id()
        );
        Command::new("sh")
            .args(["-c", &script, "pg-watcher"])
            .arg(bin.join("pg_ctl"))
            .arg(data)
            .arg(root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the PostgreSQL watcher")
    }

    /// Runs `sql` through psql over the Unix socket (trust).
    pub(crate) fn sql(&self, database: &str, user: &str, sql: &str) {
        run(
            Command::new(self.bin.join("psql"))
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
                .arg(&self.socket_dir)
                .args(["-p", &self.port.to_string(), "-U", user, "-d", database])
                .args(["-c", sql]),
            "psql",
        );
    }

    /// Stops the server at once (`immediate`: as a crash or a cut cable
    /// looks to its clients).
    pub(crate) fn stop(&self) {
        run(
            as_server_user(&self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&self.data)
                .args(["-w", "-m", "immediate", "stop"]),
            "pg_ctl stop",
        );
    }

    /// Starts the server again after [`PgServer::stop`].
    pub(crate) fn start_again(&self) {
        let status = as_server_user(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(["-w", "-t", "30", "-o", &self.options, "start"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl start failed");
    }

    /// Runs `sql` in `database` as the test user, and its output (psql
    /// unaligned, tuples only).
    pub(crate) fn query(&self, database: &str, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.socket_dir)
            .args(["-p", &self.port.to_string(), "-U", USER, "-d", database])
            .args(["-c", sql])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "psql: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// A new database owned by the test user, set up with `setup`.
    pub(crate) fn database(&self, name: &str, setup: &str) -> String {
        self.sql(
            "postgres",
            "postgres",
            &format!("CREATE DATABASE {name} OWNER {USER}"),
        );
        if !setup.is_empty() {
            self.sql(name, USER, setup);
        }
        name.to_owned()
    }
}

/// A `[[source]]` of kind postgres on the test server; `extra` adds or
/// overrides keys of `[source.postgres]`.
pub(crate) fn source(id: &str, database: &str, query: &str, extra: &str) -> String {
    format!(
        "\n[[source]]\nid = \"{id}\"\nkind = \"postgres\"\n[source.postgres]\n\
         host = \"127.0.0.1\"\nport = {}\ndbname = \"{database}\"\nuser = \"{USER}\"\n\
         password_env = \"PG_TEST_PASSWORD\"\nconnect_timeout = \"5s\"\n\
         query = \"\"\"\n{query}\n\"\"\"\n{extra}\n",
        server().port
    )
}

/// A ratio check (members per FTE, at most 3000) on `source`.
fn ratio_check(id: &str, source: &str) -> String {
    format!(
        "\n[[check]]\nid = \"{id}\"\ntitle = \"Members per therapist ({id})\"\nkind = \"ratio\"\n\
         source = \"{source}\"\nnumerator = \"members\"\ndenominator = \"fte\"\n\
         group_by = [\"region\"]\nop = \"<=\"\nlimit = 3000\nseverity = \"critical\"\n"
    )
}

const STAFFING_QUERY: &str = "SELECT 'socal-south'::text AS region, 412000::int8 AS members, \
                              118.50::numeric(6,2) AS fte";

/// Runs `run --once --report json` on `config` and returns the output and
/// the report.
pub(crate) fn run_once(config: &str, env: &[(&str, &str)]) -> (common::Output, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = ConfigText::new()
        .los_angeles()
        .route("compliance", &["compliance@plan.example"])
        .section(config)
        .write(dir.path());
    let mut env = env.to_vec();
    if !env.iter().any(|(k, _)| *k == "PG_TEST_PASSWORD") {
        env.push(("PG_TEST_PASSWORD", PASSWORD));
    }
    let out = accesswatch(
        &[
            "--config",
            path.to_str().unwrap(),
            "run",
            "--once",
            "--report",
            "json",
            "--as-of",
            AS_OF,
        ],
        &env,
    );
    let report = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("report is not JSON ({e}):\n{}\n{}", out.stdout, out.stderr));
    (out, report)
}

pub(crate) fn check<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report}"))
}

fn group<'a>(check: &'a serde_json::Value, region: &str) -> &'a serde_json::Value {
    check["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["labels"]["region"] == region)
        .unwrap_or_else(|| panic!("no group {region} in {check}"))
}

fn error(check: &serde_json::Value) -> &str {
    assert_eq!(check["status"], "unknown", "{check}");
    check["error"].as_str().unwrap_or_default()
}

pub(crate) const AS_OF: &str = "2026-11-30T17:00:00-08:00";

/// The requests of tests/it/wait_times.rs: socal-south has 3 of 5 offered
/// within 10 business days, north 2 of 2; plus R0, requested before the
/// window and never offered, which `requested_at > $1` leaves out.
const APPOINTMENTS: &str = "
CREATE SCHEMA access;
CREATE TYPE access.urgency AS ENUM ('urgent', 'non_urgent');
CREATE TABLE access.appointment_requests (
    request_id text PRIMARY KEY,
    requested_at timestamptz NOT NULL,
    prior_appointment_at timestamptz,
    first_offered_at timestamptz,
    visit_type varchar(20),
    urgency access.urgency,
    prior_auth boolean,
    provider_type text,
    extended_by_provider boolean,
    region text
);
SET TimeZone = 'America/Los_Angeles';
INSERT INTO access.appointment_requests VALUES
 ('R0', '2026-09-01 09:00', NULL, NULL, 'initial', 'non_urgent', false, 'non_physician_mh', false, 'socal-south'),
 ('R1', '2026-11-02 09:00', NULL, '2026-11-03 09:00', 'initial', 'non_urgent', false, 'non_physician_mh', false, 'socal-south'),
 ('R2', '2026-11-02 09:00', NULL, '2026-11-17 09:00', 'initial', 'non_urgent', false, 'non_physician_mh', false, 'socal-south'),
 ('R3', '2026-11-02 09:00', NULL, '2026-11-18 09:00', 'initial', 'non_urgent', false, 'non_physician_mh', false, 'socal-south'),
 ('R4', '2026-11-02 09:00', NULL, NULL, 'initial', 'non_urgent', false, 'non_physician_mh', false, 'socal-south'),
 ('R5', '2026-11-02 09:00', NULL, '2026-12-01 09:00', 'initial', 'non_urgent', false, 'non_physician_mh', true, 'socal-south'),
 ('R6', '2026-11-02 17:00Z', NULL, '2026-11-04 09:00', 'initial', 'non_urgent', false, 'non_physician_mh', false, 'north'),
 ('R7', '2026-11-20', NULL, '2026-11-20', 'initial', 'non_urgent', false, 'LCSW', false, 'north'),
 ('R8', '2026-11-02 09:00', NULL, '2026-11-04 09:00', 'follow_up', 'non_urgent', false, 'non_physician_mh', false, 'north');
";

#[test]
fn a_query_feeds_a_wait_time_check_end_to_end() {
    let db = server().database("wait_times", APPOINTMENTS);
    let query = "SELECT request_id AS id, requested_at, prior_appointment_at, first_offered_at, \
                 visit_type, urgency, prior_auth, provider_type, extended_by_provider, region \
                 FROM access.appointment_requests WHERE requested_at > $1";
    let mut config = source(
        "appointments",
        &db,
        query,
        "tls = \"require\"\nparams = [\"window_start\"]",
    );
    config += "\n[source.values.provider_type]\nLCSW = \"non_physician_mh\"\n";
    config += r#"
[[check]]
id = "mh-initial"
kind = "timely_access"
standard = "ca-dmhc/non-urgent-mh-initial"
source = "appointments"
group_by = ["region"]
calendar = "us-federal"
severity = "critical"
"#;
    let (out, report) = run_once(&config, &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let timely = check(&report, "mh-initial");
    assert_eq!(timely["status"], "breach", "{timely}");
    assert_eq!(
        timely["data_time"], "2026-12-01T01:00:00Z",
        "the evaluation time"
    );
    let south = group(timely, "socal-south");
    assert_eq!(
        south["counts"],
        serde_json::json!({"compliant": 3, "noncompliant": 2, "pending": 0, "extended": 1, "rejected": 0, "before_effective": 0}),
        "R0 is before the window: {south}"
    );
    assert_eq!(south["rate"], 0.6);
    assert_eq!(south["median_wait"], 10.0);
    assert_eq!(south["overdue_open"], 1);
    assert_eq!(south["longest_open_wait"], 18.0);
    let north = group(timely, "north");
    assert_eq!(north["counts"]["compliant"], 2);
    assert_eq!(north["status"], "ok");
    out.log("source fetched", "source", "appointments");
    assert!(!out.stderr.contains(PASSWORD));
}

#[test]
fn numbers_and_times_convert_and_fields_map() {
    let db = server().database("conversions", "");
    let query = "SELECT 'socal-south'::varchar AS area, 412000::int8 AS enrolled, \
                 118.50::numeric(6,2) AS fte, 1.5::float8 AS ratio, true AS active, \
                 '2026-11-27 09:00:00+00'::timestamptz AS loaded_at, DATE '2026-11-27' AS day, \
                 '2026-11-27 09:00'::timestamp AS naive, gen_random_uuid() AS uuid, \
                 '{}'::jsonb AS extra, ARRAY[1, 2] AS list, NULL::text AS nothing \
                 UNION ALL SELECT 'north', 298000, 121, NULL, false, \
                 '2026-11-26 09:00:00+00', NULL, NULL, NULL, NULL, NULL, NULL";
    let mut config = source("staffing", &db, query, "tls = \"disable\"");
    config = config.replace(
        "kind = \"postgres\"\n",
        "kind = \"postgres\"\ntime_field = \"loaded_at\"\n",
    );
    config += "[source.fields]\nregion = \"area\"\nmembers = \"enrolled\"\n";
    config += &ratio_check("ratio", "staffing");
    let (out, report) = run_once(&config, &[]);
    let ratio = check(&report, "ratio");
    assert_eq!(ratio["data_time"], "2026-11-27T09:00:00Z", "{ratio}");
    let south = group(ratio, "socal-south");
    assert_eq!(south["status"], "breach");
    assert!(
        (south["value"].as_f64().unwrap() - 3476.79).abs() < 0.01,
        "{south}"
    );
    assert_eq!(group(ratio, "north")["status"], "ok");
    assert_eq!(out.code, 2, "{}", out.stderr);

    // A mapping to a column the query does not return.
    let mut config = source("bad-mapping", &db, STAFFING_QUERY, "tls = \"disable\"");
    config += "[source.fields]\nmembers = \"enrolled\"\n";
    config += &ratio_check("bad-mapping", "bad-mapping");
    let (_, report) = run_once(&config, &[]);
    let message = error(check(&report, "bad-mapping"));
    assert!(
        message.contains(
            "[source.fields] maps `members` to column \"enrolled\", which the query does not \
             return (it returns: region, members, fte)"
        ),
        "{message}"
    );
}

#[test]
fn a_slow_query_hits_the_statement_timeout() {
    let db = server().database("slow", "");
    // The scenario: a query far slower than its statement_timeout.
    let query = format!("SELECT region, members, fte, pg_sleep(30) FROM ({STAFFING_QUERY}) AS s");
    let mut config = source(
        "slow",
        &db,
        &query,
        "tls = \"require\"\nstatement_timeout = \"1s\"",
    );
    config += &ratio_check("slow", "slow");
    let started = Instant::now();
    let (out, report) = run_once(&config, &[]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let message = error(check(&report, "slow"));
    assert!(
        message.contains(&format!(
            "the query on postgres {USER}@127.0.0.1:{}/slow ran longer than statement_timeout = 1s",
            server().port
        )),
        "{message}"
    );
    assert_eq!(out.code, 3);
    let event = out.log("source fetch failed", "source", "slow");
    assert!(
        event["error"]
            .as_str()
            .unwrap()
            .contains("statement_timeout")
    );
}

#[test]
fn sql_errors_are_source_errors_without_cell_values_and_sessions_are_read_only() {
    let db = server().database(
        "sql_errors",
        "CREATE TABLE staff (region text, members text, fte numeric); \
         INSERT INTO staff VALUES ('south', 'Jane Doe', 1)",
    );
    let mut config = source(
        "typo",
        &db,
        "SELECT region, membrs, fte FROM staff",
        "tls = \"disable\"",
    );
    config += &ratio_check("typo", "typo");
    config += &source(
        "cast",
        &db,
        "SELECT region, members::int AS members, fte FROM staff",
        "tls = \"disable\"",
    );
    config += &ratio_check("cast", "cast");
    config += &source(
        "writes",
        &db,
        "DELETE FROM staff RETURNING region, 1 AS members, fte",
        "tls = \"disable\"",
    );
    config += &ratio_check("writes", "writes");
    let (out, report) = run_once(&config, &[]);
    let typo = error(check(&report, "typo"));
    assert!(
        typo.contains("the query on postgres aw@127.0.0.1:")
            && typo.contains("failed: column \"membrs\" does not exist at character 16")
            && typo.contains("(SQLSTATE 42703)"),
        "{typo}"
    );
    let cast = error(check(&report, "cast"));
    assert!(
        cast.contains("failed: invalid input syntax for type integer (SQLSTATE 22P02)"),
        "{cast}"
    );
    let writes = error(check(&report, "writes"));
    assert!(
        writes.contains("failed: cannot execute DELETE in a read-only transaction"),
        "{writes}"
    );
    assert!(!out.stderr.contains("Jane Doe") && !out.stdout.contains("Jane Doe"));
}

#[test]
fn wrong_password_and_refused_connections_are_clear() {
    let db = server().database("auth", "");
    let mut config = source("wrong-password", &db, STAFFING_QUERY, "tls = \"require\"");
    config += &ratio_check("wrong-password", "wrong-password");
    let (out, report) = run_once(&config, &[("PG_TEST_PASSWORD", "not-the-Passw0rd")]);
    let message = error(check(&report, "wrong-password"));
    assert!(
        message.contains(&format!(
            "password authentication failed for postgres aw@127.0.0.1:{}/auth: check the password",
            server().port
        )),
        "{message}"
    );
    assert!(!out.stdout.contains("not-the-Passw0rd") && !out.stderr.contains("not-the-Passw0rd"));

    let port = common::free_port();
    let config = format!(
        "{}{}",
        source("refused", &db, STAFFING_QUERY, "tls = \"disable\"").replace(
            &format!("port = {}", server().port),
            &format!("port = {port}")
        ),
        ratio_check("refused", "refused")
    );
    let (out, report) = run_once(&config, &[]);
    let message = error(check(&report, "refused"));
    assert!(
        message.contains(&format!(
            "cannot connect to postgres aw@127.0.0.1:{port}/auth: error connecting to server"
        )) && message.contains("check `host`, `port` and that the server is running"),
        "{message}"
    );
    assert_eq!(out.code, 3);
}

#[test]
fn tls_require_encrypts_and_verify_full_checks_the_certificate() {
    let server = server();
    let db = server.database("tls", "");
    let ca = server.ca.display().to_string();
    // The row comes back only over TLS.
    let query = format!(
        "SELECT * FROM ({STAFFING_QUERY}) AS s WHERE (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())"
    );
    let mut config = String::new();
    let cases = [
        ("require", "tls = \"require\"".to_owned()),
        (
            "verify",
            format!("tls = \"verify-full\"\nca_file = \"{ca}\""),
        ),
        ("unverified", "tls = \"verify-full\"".to_owned()),
        ("default", String::new()),
    ];
    for (id, tls) in &cases {
        config += &source(id, &db, &query, tls);
        config += &ratio_check(id, id);
    }
    let (out, report) = run_once(&config, &[]);
    for id in ["require", "verify"] {
        let ratio = check(&report, id);
        assert_eq!(
            group(ratio, "socal-south")["status"],
            "breach",
            "{id}: {ratio}"
        );
    }
    for id in ["unverified", "default"] {
        let message = error(check(&report, id));
        assert!(
            message.contains("error performing TLS handshake")
                && message.contains("certificate")
                && message.contains("set ca_file to the CA that signed it"),
            "{id}: {message}"
        );
    }
    assert_eq!(out.code, 2, "{}", out.stderr);
}

/// A wait-time check folds a query's rows through a portal, a bounded
/// number at a time: 25,000 rows (two and a half fetches) are all counted,
/// rejected rows named by their row number across fetches.
#[test]
fn a_wait_time_check_folds_more_rows_than_one_fetch() {
    let db = server().database("many_requests", "");
    let query = "SELECT 'R' || g AS id, \
                 CASE WHEN g % 5000 = 0 THEN NULL ELSE TIMESTAMPTZ '2026-11-20 09:00:00-08' END AS requested_at, \
                 TIMESTAMPTZ '2026-11-23 09:00:00-08' AS first_offered_at, \
                 'initial' AS visit_type, 'non_urgent' AS urgency, false AS prior_auth, \
                 'non_physician_mh' AS provider_type, false AS extended_by_provider, \
                 CASE WHEN g % 3 = 0 THEN 'north' ELSE 'south' END AS region \
                 FROM generate_series(1, 25000) AS g ORDER BY g";
    let mut config = source("requests", &db, query, "tls = \"disable\"");
    config += r#"
[[check]]
id = "mh-initial"
kind = "timely_access"
standard = "ca-dmhc/non-urgent-mh-initial"
source = "requests"
group_by = ["region"]
calendar = "us-federal"
"#;
    let (out, report) = run_once(&config, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let timely = check(&report, "mh-initial");
    assert_eq!(
        group(timely, "north")["counts"],
        serde_json::json!({"compliant": 8332, "noncompliant": 0, "pending": 0, "extended": 0, "rejected": 1, "before_effective": 0}),
    );
    assert_eq!(
        group(timely, "south")["counts"],
        serde_json::json!({"compliant": 16663, "noncompliant": 0, "pending": 0, "extended": 0, "rejected": 4, "before_effective": 0}),
    );
    assert_eq!(
        timely["rejected_rows"],
        serde_json::json!([
            "row 5000: `requested_at` is empty",
            "row 10000: `requested_at` is empty",
            "row 15000: `requested_at` is empty",
            "row 20000: `requested_at` is empty",
            "row 25000: `requested_at` is empty",
        ])
    );
}

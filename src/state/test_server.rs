//! A throwaway PostgreSQL server for the state store's tests: initdb into a
//! temporary directory (as `nobody` when the tests run as root, since
//! PostgreSQL refuses to run as root), trust authentication on 127.0.0.1,
//! one database per test. A watcher process stops the server and removes
//! its directory once the test process has exited.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::PostgresState;
use crate::pg::{Blocking, Target, Tls};

pub struct Server {
    pub port: u16,
}

/// The directory of initdb and pg_ctl: `ACCESSWATCH_PG_BIN`, else the
/// newest /usr/lib/postgresql/*/bin.
pub fn pg_bin() -> PathBuf {
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
    dirs.pop()
        .expect("PostgreSQL server binaries not found: run the tests with scripts/test")
}

fn as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn server_command(program: &Path) -> Command {
    if as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "nobody", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(command: &mut Command, what: &str) {
    let output = command.stdin(Stdio::null()).output().unwrap();
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let bin = pg_bin();
        let root = tempfile::Builder::new()
            .prefix("accesswatch-state-pg-")
            .tempdir()
            .unwrap()
            .keep();
        if as_root() {
            run(
                Command::new("chown").args(["-R", "nobody"]).arg(&root),
                "chown",
            );
        }
        let data = root.join("data");
        run(
            server_command(&bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-sync",
                    "--no-instructions",
                ]),
            "initdb",
        );
        let port = free_port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
            root.display()
        );
        let status = server_command(&bin.join("pg_ctl"))
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
        assert!(status.success(), "pg_ctl start failed");
        let stop = if as_root() {
            "runuser -u nobody -- \"$1\" -D \"$2\" stop -m immediate"
        } else {
            "\"$1\" -D \"$2\" stop -m immediate"
        };
        let script = format!(
            "while kill -0 {} 2>/dev/null; do sleep 0.5; done; {stop}; rm -rf \"$3\"",
            std::process::id()
        );
        // Outlives this process on purpose: it stops the server after us.
        let watcher = Command::new("sh")
            .args(["-c", &script, "pg-watcher"])
            .arg(bin.join("pg_ctl"))
            .arg(&data)
            .arg(&root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::mem::forget(watcher);
        Server { port }
    })
}

pub fn target(port: u16, dbname: &str) -> Target {
    Target {
        host: "127.0.0.1".to_owned(),
        port,
        dbname: dbname.to_owned(),
        user: "postgres".to_owned(),
        password: None,
        tls: Tls::Disable,
        ca_file: None,
        connect_timeout: Duration::from_secs(10),
    }
}

/// A new, empty database on the test server, as a state location.
pub fn database() -> PostgresState {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let server = server();
    let name = format!("state_{}", NEXT.fetch_add(1, Ordering::SeqCst));
    let admin = Blocking::start(
        target(server.port, "postgres"),
        String::new(),
        Duration::from_secs(30),
    )
    .unwrap();
    // CREATE DATABASE runs outside a transaction: begin, then end it.
    admin.begin("SELECT 1").unwrap();
    admin.batch(&format!("CREATE DATABASE {name}")).unwrap();
    PostgresState {
        target: target(server.port, &name),
        statement_timeout: Duration::from_secs(30),
        node: "test".to_owned(),
        lease_ttl: Duration::from_secs(30),
    }
}

//! Helpers shared by the integration tests: running the real binary, real
//! HTTP servers (axum on 127.0.0.1:0), a real SMTP server (aiosmtpd, run by
//! tests/support/smtp_server.py in the virtual environment that
//! scripts/test creates), and reading delivered mail back.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The JSON log lines of stderr.
    pub fn logs(&self) -> Vec<serde_json::Value> {
        self.stderr
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The first log event with this message, or a panic showing stderr.
    pub fn log(&self, message: &str, key: &str, value: &str) -> serde_json::Value {
        self.logs()
            .into_iter()
            .find(|e| e["message"] == message && e[key] == value)
            .unwrap_or_else(|| {
                panic!(
                    "no log event {message:?} with {key}={value:?} in:\n{}",
                    self.stderr
                )
            })
    }
}

/// Runs the binary with `args` in the repository root and waits for it.
pub fn accesswatch(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_accesswatch"));
    command
        .args(args)
        .current_dir(manifest_dir())
        .env_remove("RUST_LOG")
        .env_remove("CREDENTIALS_DIRECTORY");
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().expect("running accesswatch");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("writing a test file");
    path
}

/// A real HTTP server on 127.0.0.1, stopped when dropped.
pub struct HttpServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HttpServer {
    pub fn start(router: axum::Router) -> HttpServer {
        let (addr_tx, addr_rx) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, router)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("http server start");
        HttpServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Slow handlers may still be sleeping; do not wait for them.
        drop(self.thread.take());
    }
}

pub fn python() -> PathBuf {
    std::env::var_os("ACCESSWATCH_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join(".venv/bin/python"))
}

/// TLS material for a test server: a private CA (`ca`, what the client is
/// told to trust) and a certificate it signed for localhost and 127.0.0.1
/// (`cert`, `key`, what the server presents), made with openssl.
pub struct Certificate {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn openssl(args: &[&str], dir: &Path) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl must be installed (scripts/test installs it)");
    assert!(status.success(), "openssl {args:?} failed");
}

pub fn certificate(dir: &Path) -> Certificate {
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=accesswatch test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
        dir,
    );
    openssl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "key.pem",
            "-out",
            "server.csr",
        ],
        dir,
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "cert.pem",
        ],
        dir,
    );
    Certificate {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    }
}

#[derive(Default)]
pub struct SmtpOptions<'a> {
    /// 0: a free port.
    pub port: u16,
    pub starttls: bool,
    pub implicit_tls: bool,
    pub auth: Option<(&'a str, &'a str)>,
    pub certificate: Option<&'a Certificate>,
    /// Seconds the server waits before accepting each message.
    pub delay: Option<f64>,
}

/// The aiosmtpd server, killed when dropped.
pub struct SmtpServer {
    pub port: u16,
    pub maildir: PathBuf,
    child: Child,
}

impl SmtpServer {
    pub fn start(dir: &Path, options: SmtpOptions) -> SmtpServer {
        let maildir = dir.join("maildir");
        std::fs::create_dir_all(&maildir).unwrap();
        let port_file = dir.join("smtp.port");
        let _ = std::fs::remove_file(&port_file);
        let script = std::env::var_os("ACCESSWATCH_SMTP_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| manifest_dir().join("tests/support/smtp_server.py"));
        let mut command = Command::new(python());
        command
            .arg(script)
            .arg("--maildir")
            .arg(&maildir)
            .arg("--port-file")
            .arg(&port_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(certificate) = options.certificate {
            command
                .arg("--tls-cert")
                .arg(&certificate.cert)
                .arg("--tls-key")
                .arg(&certificate.key);
        }
        if options.port != 0 {
            command.arg("--port").arg(options.port.to_string());
        }
        if options.starttls {
            command.arg("--starttls");
        }
        if options.implicit_tls {
            command.arg("--implicit-tls");
        }
        if let Some(delay) = options.delay {
            command.arg("--delay").arg(delay.to_string());
        }
        if let Some((user, password)) = options.auth {
            command.args(["--auth-user", user, "--auth-password", password]);
        }
        let child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start the SMTP test server with {}: {e}; run the tests with scripts/test, which installs aiosmtpd",
                python().display()
            )
        });
        let mut server = SmtpServer {
            port: 0,
            maildir,
            child,
        };
        let port = wait_until(Duration::from_secs(20), || {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "the SMTP test server exited with {status}; is aiosmtpd installed in {}?",
                    python().display()
                );
            }
            std::fs::read_to_string(&port_file)
                .ok()?
                .trim()
                .parse()
                .ok()
        });
        server.port = port.expect("the SMTP test server did not start");
        server
    }

    /// The delivered messages (raw bytes) with their envelope sidecars,
    /// in delivery order.
    pub fn messages(&self) -> Vec<(Vec<u8>, serde_json::Value)> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.maildir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|eml| {
                let envelope = std::fs::read_to_string(eml.with_extension("json")).unwrap();
                (
                    std::fs::read(&eml).unwrap(),
                    serde_json::from_str(&envelope).unwrap(),
                )
            })
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running daemon whose stderr lines are collected in the background.
pub struct Daemon {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Daemon {
    pub fn start(config: &Path, env: &[(&str, &str)]) -> Daemon {
        let mut command = Command::new(env!("CARGO_BIN_EXE_accesswatch"));
        command
            .arg("--config")
            .arg(config)
            .arg("run")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("starting the daemon");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Daemon {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a log line containing `needle`.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no log line with {needle:?} within {timeout:?}; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits until `count` log lines contain `needle`.
    pub fn wait_for_count(&mut self, needle: &str, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.seen.iter().filter(|l| l.contains(needle)).count() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "fewer than {count} log lines with {needle:?} within {timeout:?}; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Takes in the lines logged so far, without waiting.
    pub fn drain(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit; panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let Some(status) = wait_until(timeout, || self.child.try_wait().unwrap()) else {
            let _ = self.child.kill();
            panic!(
                "the daemon did not exit within {timeout:?}; saw:\n{}",
                self.seen.join("\n")
            );
        };
        // The rest of its log: the reader thread hangs up at the end of it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
        status
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A staffing CSV in which socal-south has 3,476.79 members per FTE
/// therapist and the other regions are below 3,000.
pub const STAFFING_CSV: &str =
    "region,members,fte\nsocal-south,412000,118.5\nsocal-north,298000,121\nnorcal-east,187500,68\n";

/// A port on 127.0.0.1 that nothing listens on (for now).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `probe` until it gives a value, for at most `timeout`: how the
/// tests wait for something to happen, rather than sleeping for a while.
pub fn wait_until<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        // The polling interval.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The text of a test's accesswatch.toml, built from the sections the
/// tests share so that each test spells out only what it is about.
///
/// [`ConfigText::new`] is an `[email]` that writes .eml files into
/// `outbox/` from aw@plan.example and nothing else; sections are added in
/// the order of the calls, after `[daemon]` and `[email]`.
pub struct ConfigText {
    daemon: String,
    from: String,
    email: String,
    body: String,
}

impl ConfigText {
    pub fn new() -> ConfigText {
        ConfigText {
            daemon: String::new(),
            from: "aw@plan.example".to_owned(),
            email: "transport = \"file\"\ndirectory = \"outbox\"\n".to_owned(),
            body: String::new(),
        }
    }

    /// Adds keys to `[daemon]` (which is left out while it has none).
    pub fn daemon(mut self, keys: &str) -> ConfigText {
        push(&mut self.daemon, keys);
        self
    }

    /// The `[daemon]` keys of the tests that keep state: Los Angeles time,
    /// and the state file in `state/` next to the configuration.
    pub fn los_angeles(self) -> ConfigText {
        self.daemon("time_zone = \"America/Los_Angeles\"\nstate_directory = \"state\"")
    }

    /// The `from` of `[email]`.
    pub fn from(mut self, from: &str) -> ConfigText {
        self.from = from.to_owned();
        self
    }

    /// The keys of `[email]` other than `from`, instead of the file
    /// transport (see [`plain_smtp`]).
    pub fn email(mut self, keys: &str) -> ConfigText {
        self.email = String::new();
        push(&mut self.email, keys);
        self
    }

    /// Adds the `staffing` source (staffing.csv, see [`STAFFING_CSV`]) with
    /// `extra` keys.
    pub fn staffing_source(self, extra: &str) -> ConfigText {
        self.section(&format!(
            "[[source]]\nid = \"staffing\"\nkind = \"file\"\npath = \"staffing.csv\"\n{extra}"
        ))
    }

    /// Adds the `members-per-therapist` check on the `staffing` source
    /// (members over FTE by region, at most 3,000, critical) with `extra`
    /// keys.
    pub fn staffing_check(self, extra: &str) -> ConfigText {
        self.section(&format!(
            r#"[[check]]
id = "members-per-therapist"
title = "Members per FTE therapist"
kind = "ratio"
source = "staffing"
numerator = "members"
denominator = "fte"
group_by = ["region"]
op = "<="
limit = 3000
severity = "critical"
{extra}"#
        ))
    }

    /// Adds a `[[route]]` to the addresses `to`.
    pub fn route(self, name: &str, to: &[&str]) -> ConfigText {
        let to: Vec<String> = to.iter().map(|a| format!("\"{a}\"")).collect();
        self.section(&format!(
            "[[route]]\nname = \"{name}\"\nto = [{}]",
            to.join(", ")
        ))
    }

    /// Adds TOML text as it is: whole sections, or keys of the section
    /// added last.
    pub fn section(mut self, toml: &str) -> ConfigText {
        if !self.body.is_empty() {
            self.body.push('\n');
        }
        push(&mut self.body, toml);
        self
    }

    pub fn build(&self) -> String {
        let mut text = String::new();
        if !self.daemon.is_empty() {
            text += &format!("[daemon]\n{}\n", self.daemon);
        }
        text += &format!("[email]\nfrom = \"{}\"\n{}\n", self.from, self.email);
        text + &self.body
    }

    /// Writes the text to `dir`/accesswatch.toml.
    pub fn write(&self, dir: &Path) -> PathBuf {
        write(dir, "accesswatch.toml", &self.build())
    }
}

/// Appends `text` to `to` as whole lines.
fn push(to: &mut String, text: &str) {
    to.push_str(text);
    if !text.is_empty() && !text.ends_with('\n') {
        to.push('\n');
    }
}

/// The `[email]` keys of plain SMTP (no TLS) to 127.0.0.1:`port`.
pub fn plain_smtp(port: u16) -> String {
    format!("host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"")
}

/// The cells of the row of `group` in an email's table (the plain part's
/// columns are separated by two or more spaces): group, status, value, …
pub fn row_cells(text: &str, group: &str) -> Vec<String> {
    let start = text
        .find(&format!("{group}  "))
        .unwrap_or_else(|| panic!("no row of {group} in:\n{text}"));
    let line = text[start..].split('\n').next().unwrap_or_default();
    line.split("  ")
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An HTTP/1.0 GET on 127.0.0.1 with an optional `Authorization` value:
/// status code, headers and body.
pub fn http_get(port: u16, path: &str, authorization: Option<&str>) -> (u16, String, String) {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{auth}\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}

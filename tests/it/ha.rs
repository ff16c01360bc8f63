//! Two daemons sharing one state on a real PostgreSQL server, sending to a
//! real SMTP server (aiosmtpd): both started together, one leads; a leader
//! killed with SIGKILL mid-delivery is replaced within the lease TTL and
//! every alert is told once (bar the one message the SMTP server may have
//! accepted just before the kill); a tick that fell due while no node led
//! runs once on the new leader; a leader cut off from the database steps
//! down, and nothing is sent twice.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{self, ConfigText, Daemon, SmtpOptions, SmtpServer, plain_smtp, write};
use crate::postgres::{PASSWORD, PgServer, USER};

const TTL: Duration = Duration::from_secs(4);

/// A node's configuration in `dir/NAME`: the staffing check (which
/// breaches socal-south) with `check_extra`, `routes` routes to the SMTP
/// server on `smtp`, state in `database` on `server`.
#[allow(clippy::too_many_arguments)]
fn node(
    dir: &Path,
    name: &str,
    server: &PgServer,
    database: &str,
    smtp: u16,
    routes: usize,
    check_extra: &str,
    listen: Option<u16>,
) -> PathBuf {
    let home = dir.join(name);
    std::fs::create_dir_all(&home).unwrap();
    write(&home, "staffing.csv", common::STAFFING_CSV);
    let listen = listen.map_or_else(String::new, |port| format!("listen = \"127.0.0.1:{port}\""));
    let mut config = ConfigText::new()
        .los_angeles()
        .daemon(&format!("log_format = \"json\"\n{listen}"))
        .email(&format!("{}\ntimeout = \"5s\"", plain_smtp(smtp)))
        .section(&format!(
            "[state]\nurl = \"postgres://{USER}@127.0.0.1:{}/{database}\"\n\
             password_env = \"AW_STATE_PASSWORD\"\ntls = \"require\"\nnode = \"{name}\"\n\
             lease_ttl = \"{}s\"",
            server.port,
            TTL.as_secs()
        ))
        .staffing_source("")
        .staffing_check(check_extra);
    for n in 1..=routes {
        config = config.route(&format!("r{n}"), &[&format!("c{n}@plan.example")]);
    }
    config.write(&home)
}

fn start(config: &Path) -> Daemon {
    Daemon::start(config, &[("AW_STATE_PASSWORD", PASSWORD)])
}

/// The Message-ID of each message the SMTP server received, in order.
fn message_ids(server: &SmtpServer) -> Vec<String> {
    server
        .messages()
        .iter()
        .map(|(raw, _)| {
            mail_parser::MessageParser::default()
                .parse(raw)
                .and_then(|m| m.message_id().map(str::to_owned))
                .expect("a Message-ID")
        })
        .collect()
}

/// Waits until one of `nodes` logs that it leads; its index.
fn leader(nodes: &mut [Daemon], timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        for (index, node) in nodes.iter_mut().enumerate() {
            node.drain();
            if node.seen.iter().any(|l| l.contains("this node leads")) {
                return index;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no node leads within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn leads(node: &Daemon) -> usize {
    node.seen
        .iter()
        .filter(|l| l.contains("this node leads"))
        .count()
}

#[test]
fn a_leader_killed_mid_delivery_is_replaced_within_the_ttl_and_tells_each_alert_once() {
    let dir = tempfile::tempdir().unwrap();
    let pg = crate::postgres::server();
    let database = pg.database("ha_kill", "");
    // A slow SMTP server: five digests take several seconds to accept.
    let smtp = SmtpServer::start(
        dir.path(),
        SmtpOptions {
            delay: Some(1.0),
            ..SmtpOptions::default()
        },
    );
    let ports = [common::free_port(), common::free_port()];
    let configs: Vec<PathBuf> = ["a", "b"]
        .iter()
        .zip(ports)
        .map(|(name, port)| {
            node(
                dir.path(),
                name,
                pg,
                &database,
                smtp.port,
                5,
                "",
                Some(port),
            )
        })
        .collect();
    // Started together: one leads, the other stands by.
    let mut nodes: Vec<Daemon> = configs.iter().map(|c| start(c)).collect();
    let first = leader(&mut nodes, Duration::from_secs(30));
    let other = 1 - first;
    nodes[first].wait_for("\"email sent\"", Duration::from_secs(60));
    nodes[other].drain();
    assert_eq!(leads(&nodes[other]), 0, "one leader at a time");
    assert!(
        nodes[other]
            .seen
            .iter()
            .all(|l| !l.contains("\"run finished\"")),
        "a standby runs nothing"
    );
    // Mid-delivery: the next message is claimed and being accepted (the
    // server takes a second for each).
    std::thread::sleep(Duration::from_millis(400));
    nodes[first].child.kill().unwrap();
    let killed = Instant::now();
    let claimed: usize = pg
        .query(
            &database,
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND claimed_at IS NOT NULL",
        )
        .parse()
        .unwrap();
    assert_eq!(claimed, 1, "the leader was killed holding a claim");
    nodes[other].wait_for("this node leads", TTL * 3);
    let took = killed.elapsed();
    assert!(
        took <= TTL + TTL / 3 + Duration::from_secs(2),
        "took over after {took:?}"
    );
    // The new leader sends what is left; the message the killed leader
    // had claimed waits for its claim to expire (70 s).
    let queued: usize = pg
        .query(&database, "SELECT count(*) FROM outbox")
        .parse()
        .unwrap();
    assert_eq!(queued, 5, "one digest per route, queued once");
    let all_sent = common::wait_until(Duration::from_secs(120), || {
        let unsent: usize = pg
            .query(
                &database,
                "SELECT count(*) FROM outbox WHERE sent_at IS NULL",
            )
            .parse()
            .ok()?;
        (unsent == 0).then_some(())
    });
    assert!(all_sent.is_some(), "every message was sent");
    let ids = message_ids(&smtp);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "every alert told: {ids:?}");
    assert!(
        ids.len() <= 6,
        "at most the message in flight at the kill is repeated: {ids:?}"
    );
    // The survivor's status names it leader.
    let out = common::accesswatch(
        &[
            "--config",
            configs[other].to_str().unwrap(),
            "status",
            "--json",
        ],
        &[("AW_STATE_PASSWORD", PASSWORD)],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let status: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let name = ["a", "b"][other];
    assert_eq!(status["lease"]["node"], name, "{status}");
    let nodes = status["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "{status}");
    let leaders: Vec<&serde_json::Value> = nodes
        .iter()
        .filter(|n| n["role"] == "leader")
        .map(|n| &n["node"])
        .collect();
    assert_eq!(leaders, [name], "{status}");
    let out = common::accesswatch(
        &["--config", configs[other].to_str().unwrap(), "status"],
        &[("AW_STATE_PASSWORD", PASSWORD)],
    );
    assert!(
        out.stdout
            .contains(&format!("nodes: {name} (leader, token 2")),
        "{}",
        out.stdout
    );
}

#[test]
fn a_tick_due_while_no_node_led_runs_once_on_the_new_leader() {
    let dir = tempfile::tempdir().unwrap();
    let pg = crate::postgres::server();
    let database = pg.database("ha_tick", "");
    let smtp = SmtpServer::start(dir.path(), SmtpOptions::default());
    let every_minute = "schedule = \"* * * * *\"";
    let a = node(
        dir.path(),
        "a",
        pg,
        &database,
        smtp.port,
        1,
        every_minute,
        None,
    );
    let b = node(
        dir.path(),
        "b",
        pg,
        &database,
        smtp.port,
        1,
        every_minute,
        None,
    );
    let mut first = start(&a);
    first.wait_for("this node leads", Duration::from_secs(30));
    first.wait_for("\"run finished\"", Duration::from_secs(30));
    let mut second = start(&b);
    second.wait_for("\"daemon started\"", Duration::from_secs(30));
    // Kill the leader two seconds before a minute starts: the tick falls
    // due before the lease expires, while no node runs the schedule.
    let second_of_minute = chrono::Utc::now().timestamp() % 60;
    let wait = (58 - second_of_minute).rem_euclid(60) as u64;
    std::thread::sleep(Duration::from_secs(wait));
    first.child.kill().unwrap();
    let tick = {
        let now = chrono::Utc::now().timestamp();
        now - now % 60 + 60
    };
    second.wait_for("this node leads", TTL * 3);
    let line = second.wait_for(
        "a tick fell due since its last run",
        Duration::from_secs(10),
    );
    assert!(line.contains("* * * * *"), "{line}");
    second.wait_for("\"run finished\"", Duration::from_secs(30));
    let before_next = common::wait_until(Duration::from_secs(5), || {
        let runs: usize = pg
            .query(
                &database,
                &format!(
                    "SELECT count(DISTINCT evaluated_at) FROM evaluations \
                     WHERE evaluated_at >= to_char(to_timestamp({tick}) AT TIME ZONE 'UTC', \
                     'YYYY-MM-DD\"T\"HH24:MI:SS')"
                ),
            )
            .parse()
            .ok()?;
        Some(runs)
    });
    assert_eq!(before_next, Some(1), "the missed tick ran once");
    second.drain();
    assert_eq!(
        second
            .seen
            .iter()
            .filter(|l| l.contains("\"run finished\""))
            .count(),
        1
    );
    let recorded = pg.query(&database, "SELECT tick FROM job_ticks");
    assert!(
        recorded.as_str()
            >= chrono::DateTime::from_timestamp(tick, 0)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string()
                .as_str(),
        "{recorded}"
    );
}

#[test]
fn a_leader_cut_off_from_the_database_steps_down_and_nothing_is_sent_twice() {
    let dir = tempfile::tempdir().unwrap();
    let pg = PgServer::start();
    let database = pg.database("ha_cut", "");
    let smtp = SmtpServer::start(dir.path(), SmtpOptions::default());
    let configs: Vec<PathBuf> = ["a", "b"]
        .iter()
        .map(|name| node(dir.path(), name, &pg, &database, smtp.port, 2, "", None))
        .collect();
    let mut nodes: Vec<Daemon> = configs.iter().map(|c| start(c)).collect();
    let first = leader(&mut nodes, Duration::from_secs(30));
    nodes[first].wait_for_count("\"email sent\"", 2, Duration::from_secs(30));
    pg.stop();
    let cut = Instant::now();
    nodes[first].wait_for("this node no longer leads", TTL * 2);
    assert!(
        cut.elapsed() < TTL,
        "stepped down after {:?}",
        cut.elapsed()
    );
    std::thread::sleep(TTL);
    pg.start_again();
    // Someone leads again; neither daemon died.
    let deadline = Instant::now() + TTL * 4;
    loop {
        for node in nodes.iter_mut() {
            node.drain();
        }
        let total: usize = nodes.iter().map(leads).sum();
        if total >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "nobody leads after the outage");
        std::thread::sleep(Duration::from_millis(100));
    }
    for node in nodes.iter_mut() {
        assert!(node.child.try_wait().unwrap().is_none(), "a node exited");
    }
    std::thread::sleep(Duration::from_secs(3));
    let ids = message_ids(&smtp);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(ids.len(), 2, "nothing sent twice: {ids:?}");
    assert_eq!(unique.len(), 2);
    for node in &nodes {
        node.signal("TERM");
    }
    for node in nodes.iter_mut() {
        assert!(node.wait_exit(Duration::from_secs(15)).success());
    }
}

#[test]
fn state_settings_mistakes_name_the_key_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let config = |state: &str| {
        ConfigText::new()
            .section(&format!("[state]\n{state}"))
            .write(dir.path())
    };
    let cases = [
        ("url = \"mysql://x@h/db\"", "is not a PostgreSQL URL"),
        ("url = \"postgres://aw:secret@h/db\"", "holds a password"),
        (
            "url = \"postgres://aw@h/db?sslmode=disable\"",
            "takes no options",
        ),
        ("tls = \"require\"", "[state] needs `url`"),
        (
            "url = \"postgres://aw@h/db\"\nlease_ttl = \"1s\"",
            "`lease_ttl` must be between",
        ),
        ("url = \"postgres://aw@h/db\"\ntls = \"maybe\"", "tls"),
    ];
    for (state, expected) in cases {
        let path = config(state);
        let out = common::accesswatch(&["--config", path.to_str().unwrap(), "check-config"], &[]);
        assert_eq!(out.code, 1, "{state}: {}", out.stderr);
        assert!(out.stderr.contains(expected), "{state}: {}", out.stderr);
        assert!(!out.stderr.contains("secret"), "{}", out.stderr);
    }
    // A server that does not answer: the daemon does not start, and says
    // what to check.
    let path = config(&format!(
        "url = \"postgres://aw@127.0.0.1:{}/db\"\ntls = \"disable\"\nconnect_timeout = \"2s\"",
        common::free_port()
    ));
    let out = common::accesswatch(
        &[
            "--config",
            path.to_str().unwrap(),
            "run",
            "--once",
            "--notify",
        ],
        &[],
    );
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("[state] url"), "{}", out.stderr);
    assert!(out.stderr.contains("aw@127.0.0.1:"), "{}", out.stderr);
}

//! The subcommands: load the configuration, start logging, call the
//! library, and choose the exit code. This is the edge where the clock is
//! read and signals are turned into a cancellation.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::cli::{Args, Command, ReportFormat, RunArgs};
use crate::config::{Config, Location, Rule, Transport};
use crate::notify::mail::{self, Mailer};
use crate::{daemon, logging, report};

/// Exit code for a configuration that does not validate (sysexits
/// EX_CONFIG), except in `run --once`, which follows the monitoring-plugins
/// convention and exits 3 (unknown).
const EXIT_CONFIG: u8 = 78;

pub async fn dispatch(args: Args) -> u8 {
    match args.command {
        Command::CheckConfig => check_config(&args.config),
        Command::Run(run) if run.once => run_once(&args.config, &run).await,
        Command::Run(_) => run_daemon(&args.config).await,
        Command::SendTestEmail { to } => send_test_email(&args.config, to).await,
        Command::Status { json } => status(&args.config, json),
        Command::Ack {
            check,
            group,
            until,
            by,
            clear,
        } => ack(&args.config, &check, &group, until.as_deref(), &by, clear),
        Command::Render { check, group } => render_check(&args.config, &check, &group).await,
        Command::Standards { json } => {
            let catalog = crate::standards::catalog();
            if json {
                println!("{}", crate::standards::to_json(&catalog));
            } else {
                print!("{}", crate::standards::render_text(&catalog));
            }
            0
        }
    }
}

fn load(path: &std::path::Path) -> Option<Config> {
    match Config::load(path) {
        Ok(config) => Some(config),
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!(
                "accesswatch: {} problem{} in {}",
                errors.lines.len(),
                if errors.lines.len() == 1 { "" } else { "s" },
                path.display()
            );
            None
        }
    }
}

fn check_config(path: &std::path::Path) -> u8 {
    let Some(config) = load(path) else { return 1 };
    print!("{}", summary(&config, Utc::now()));
    0
}

/// The one-screen summary printed by `check-config`.
pub fn summary(config: &Config, now: chrono::DateTime<Utc>) -> String {
    let mut out = String::new();
    let zone = config.daemon.time_zone;
    let transport = match &config.email.transport {
        Transport::Smtp(s) => format!(
            "smtp://{}:{} (tls {}{})",
            s.host,
            s.port,
            s.tls.as_str(),
            if s.credentials.is_some() {
                ", auth"
            } else {
                ""
            }
        ),
        Transport::File { directory } => format!("files in {}", directory.display()),
    };
    let _ = writeln!(out, "{}: OK", config.path.display());
    let _ = writeln!(
        out,
        "time zone {zone}; state directory {}; email from {} via {transport}",
        config.daemon.state_directory.display(),
        config.email.from
    );
    let _ = writeln!(out, "\nsources ({}):", config.sources.len());
    for source in &config.sources {
        let (kind, location) = match &source.location {
            Location::File(path) => ("file", path.display().to_string()),
            Location::Http(http) => ("http", crate::source::http::display_url(&http.url)),
            Location::Fhir(fhir) => ("fhir", fhir.describe()),
            Location::Nppes(nppes) => ("nppes", nppes.describe()),
            Location::Postgres(postgres) => ("pg", postgres.describe()),
        };
        let _ = writeln!(out, "  {:<24} {kind:<5} {location}", source.id);
    }
    let _ = writeln!(out, "\nchecks ({}):", config.checks.len());
    for check in &config.checks {
        let kind = match check.rule {
            Rule::Threshold { .. } => "threshold",
            Rule::Ratio { .. } => "ratio",
            Rule::TimelyAccess(_) => "timely",
            Rule::Freshness { .. } => "freshness",
        };
        let next = check.schedule.next_after(now).map_or_else(
            || "never".to_owned(),
            |t| {
                t.with_timezone(&check.schedule.time_zone())
                    .format("%Y-%m-%d %H:%M %Z")
                    .to_string()
            },
        );
        let what = match &check.rule {
            Rule::TimelyAccess(rule) => format!(
                "{}: {} within {}",
                rule.standard.id,
                crate::notify::render::percent(rule.target),
                rule.unit.words(rule.limit)
            ),
            _ => format!(
                "{} {} {}",
                check.metric,
                check.comparison.op.as_str(),
                crate::notify::render::number(check.comparison.limit)
            ),
        };
        let _ = writeln!(
            out,
            "  {:<24} {kind:<9} {:<8} {what}  \"{}\" {}  next {next}",
            check.id,
            check.severity.as_str(),
            check.schedule.expression(),
            check.schedule.time_zone()
        );
    }
    let _ = writeln!(out, "\nroutes ({}):", config.routes.len());
    for route in &config.routes {
        let checks = if route.checks.is_empty() {
            "all checks".to_owned()
        } else {
            route.checks.join(", ")
        };
        let severities = if route.severities.is_empty() {
            "any severity".to_owned()
        } else {
            route
                .severities
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let labels = if route.labels.is_empty() {
            String::new()
        } else {
            format!("; labels {}", crate::evaluate::label_text(&route.labels))
        };
        let _ = writeln!(
            out,
            "  {:<24} -> {} ({checks}; {severities}{labels})",
            route.name,
            route.to.join(", ")
        );
    }
    if !config.maintenance.is_empty() {
        let _ = writeln!(out, "\nmaintenance windows ({}):", config.maintenance.len());
        for window in &config.maintenance {
            let local = |t: chrono::DateTime<Utc>| {
                t.with_timezone(&zone)
                    .format("%Y-%m-%d %H:%M %Z")
                    .to_string()
            };
            let _ = writeln!(
                out,
                "  {:<24} {} – {}",
                window.name,
                local(window.start),
                local(window.end)
            );
        }
    }
    if let Some(address) = config.daemon.listen {
        let _ = writeln!(out, "\nserving /metrics and /healthz on {address}");
    }
    out
}

async fn run_once(path: &std::path::Path, args: &RunArgs) -> u8 {
    let Some(config) = load(path) else { return 3 };
    logging::init(config.daemon.log_format, &config.daemon.log_filter);
    let as_of = args.as_of.unwrap_or_else(Utc::now);
    // With --notify the run is recorded in the state store like a daemon
    // run (alert state, outbox), and the outbox is sent before exiting.
    let notifier = if args.notify {
        match (
            crate::state::open(&config.daemon.state_directory),
            Mailer::new(&config.email),
        ) {
            (Ok(store), Ok(mailer)) => Some((Arc::new(store), mailer)),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("accesswatch: {e:#}");
                return 3;
            }
        }
    } else {
        None
    };
    let never = CancellationToken::new();
    let store = notifier.as_ref().map(|(store, _)| store.clone());
    let Some(outcome) = crate::run::run(&config, &config.checks, as_of, store, &never).await else {
        return 3;
    };
    match args.report {
        ReportFormat::Json => println!("{}", report::json(as_of, &outcome.results)),
        ReportFormat::Text => print!(
            "{}",
            report::text(as_of, &outcome.results, config.daemon.time_zone)
        ),
    }
    let code = report::exit_code(&outcome.results);
    let Some((store, mailer)) = notifier else {
        return code;
    };
    match notify_once(&config, &store, &mailer, &outcome).await {
        Ok(0) => code,
        Ok(unsent) => {
            // The report was printed, but an alert did not go out: say so
            // loudly, and never report "OK" for such a run.
            eprintln!(
                "accesswatch: {unsent} alert email(s) could not be sent; they stay in the outbox of {}",
                store.path().display()
            );
            if code == 2 { 2 } else { 3 }
        }
        Err(e) => {
            eprintln!("accesswatch: {e:#}");
            3
        }
    }
}

/// Records the run and sends the whole outbox once; how many stay unsent.
async fn notify_once(
    config: &Config,
    store: &crate::state::Store,
    mailer: &Mailer,
    outcome: &crate::run::RunOutcome,
) -> anyhow::Result<usize> {
    crate::record::record(
        store,
        config,
        &outcome.results,
        &outcome.sources,
        outcome.as_of,
        &mail::host_name(),
    )?;
    crate::delivery::deliver_due(
        store,
        mailer,
        &config.email.from,
        None,
        config.alerting.undeliverable_after,
    )
    .await?;
    Ok(store.outbox_stats()?.unsent as usize)
}

async fn run_daemon(path: &std::path::Path) -> u8 {
    let Some(config) = load(path) else {
        return EXIT_CONFIG;
    };
    logging::init(config.daemon.log_format, &config.daemon.log_filter);
    let shutdown = CancellationToken::new();
    let (reload, reloads) = tokio::sync::mpsc::channel(4);
    tokio::spawn(handle_signals(shutdown.clone(), reload));
    match daemon::run(Arc::new(config), shutdown, reloads).await {
        Ok(()) => 0,
        Err(e) => {
            error!(error = %format!("{e:#}"), "daemon failed to start");
            eprintln!("accesswatch: {e:#}");
            1
        }
    }
}

/// SIGTERM and SIGINT cancel `shutdown`; SIGHUP asks for a reload.
async fn handle_signals(shutdown: CancellationToken, reload: tokio::sync::mpsc::Sender<()>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        error!("cannot install signal handlers; stop the daemon with SIGKILL");
        return;
    };
    loop {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            _ = hup.recv() => {
                info!(signal = "SIGHUP", "signal received");
                let _ = reload.try_send(());
                continue;
            }
        };
        info!(signal = name, "signal received");
        shutdown.cancel();
        return;
    }
}

async fn send_test_email(path: &std::path::Path, to: Option<String>) -> u8 {
    let Some(config) = load(path) else { return 1 };
    logging::init(config.daemon.log_format, &config.daemon.log_filter);
    let recipients: Vec<String> = match to {
        Some(address) => match mail::parse_mailbox(&address) {
            Ok(a) => vec![a],
            Err(e) => {
                eprintln!("accesswatch: --to {address:?} is not an email address: {e}");
                return 2;
            }
        },
        None => config
            .routes
            .iter()
            .flat_map(|r| r.to.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    if recipients.is_empty() {
        eprintln!("accesswatch: no recipients: give --to ADDR or add a [[route]]");
        return 2;
    }
    let mailer = match Mailer::new(&config.email) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("accesswatch: {e:#}");
            return 1;
        }
    };
    let host = mail::host_name();
    let message = mail::test_email(&mailer.describe(), &host);
    match mailer.send(&config.email.from, &recipients, &message).await {
        Ok(()) => {
            println!(
                "sent a test message to {} through {}",
                recipients.join(", "),
                mailer.describe()
            );
            0
        }
        Err(e) => {
            eprintln!("accesswatch: {e:#}");
            1
        }
    }
}

fn status(path: &std::path::Path, json: bool) -> u8 {
    let Some(config) = load(path) else { return 1 };
    let now = Utc::now();
    let view = crate::state::open_read_only(&config.daemon.state_directory)
        .and_then(|store| Ok((store.episodes()?, store.outbox_stats()?)));
    let (episodes, outbox) = match view {
        Ok(view) => view,
        Err(e) => {
            eprintln!("accesswatch: {e:#}");
            return 1;
        }
    };
    let after = config.alerting.undeliverable_after;
    if json {
        println!(
            "{}",
            crate::operator::status_json(&episodes, &outbox, now, after)
        );
    } else {
        print!(
            "{}",
            crate::operator::status_text(&episodes, &outbox, now, after, config.daemon.time_zone)
        );
    }
    0
}

fn ack(
    path: &std::path::Path,
    check: &str,
    group: &[(String, String)],
    until: Option<&str>,
    by: &str,
    clear: bool,
) -> u8 {
    let Some(config) = load(path) else { return 1 };
    let now = Utc::now();
    let until = match (until, clear) {
        (_, true) => None,
        (Some(text), false) => match crate::operator::parse_until(text, now) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("accesswatch: {e}");
                return 2;
            }
        },
        (None, false) => {
            eprintln!("accesswatch: give --until TIME or --clear");
            return 2;
        }
    };
    let labels = group.iter().cloned().collect();
    let done = crate::state::open_shared(&config.daemon.state_directory)
        .and_then(|store| store.ack(check, &labels, until, by, now));
    match done {
        Ok(acked) if acked.episodes == 0 => {
            eprintln!(
                "accesswatch: no open alert of check {check:?} matches; `accesswatch status` lists them"
            );
            1
        }
        Ok(acked) => {
            match until {
                Some(t) => println!(
                    "acknowledged {} alert(s) of {check} until {} by {by}",
                    acked.episodes,
                    t.to_rfc3339()
                ),
                None => println!(
                    "cleared the acknowledgement of {} alert(s) of {check}",
                    acked.episodes
                ),
            }
            0
        }
        Err(e) => {
            eprintln!("accesswatch: {e:#}");
            1
        }
    }
}

async fn render_check(path: &std::path::Path, check_id: &str, group: &[(String, String)]) -> u8 {
    let Some(config) = load(path) else { return 1 };
    let Some(check) = config.checks.iter().find(|c| c.id == check_id) else {
        let ids: Vec<&str> = config.checks.iter().map(|c| c.id.as_str()).collect();
        eprintln!(
            "accesswatch: no check {check_id:?} (checks: {})",
            ids.join(", ")
        );
        return 1;
    };
    let now = Utc::now();
    let never = CancellationToken::new();
    let Some(outcome) =
        crate::run::run(&config, std::slice::from_ref(check), now, None, &never).await
    else {
        return 1;
    };
    let labels = group.iter().cloned().collect();
    let rendered = outcome
        .results
        .first()
        .and_then(|result| crate::operator::render_check(&config, result, &labels, now));
    match rendered {
        Some(email) => {
            println!("Subject: {}\n", email.subject);
            println!("--- text/plain ---\n{}", email.text);
            println!("--- text/html ---\n{}", email.html);
            0
        }
        None => {
            eprintln!("accesswatch: no route follows check {check_id:?}");
            1
        }
    }
}

//! The subcommands: load the configuration, start logging, call the
//! library, and choose the exit code. This is the edge where the clock is
//! read and signals are turned into a cancellation.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::cli::args::{Args, Command, ReportFormat, RunArgs};
use crate::cli::exit::Exit;
use crate::cli::{evidence, operator, report};
use crate::config::Config;
use crate::notify::mail::{self, Mailer};
use crate::{daemon, logging};

pub async fn dispatch(args: Args) -> Exit {
    match args.command {
        Command::CheckConfig {
            connect,
            credentials_directory,
        } => check_config(&args.config, connect, credentials_directory).await,
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
            note,
        } => ack(
            &args.config,
            &check,
            &group,
            (until.as_deref(), clear),
            &by,
            note.as_deref(),
        ),
        Command::Note {
            check,
            group,
            text,
            by,
        } => match load(&args.config) {
            Some(config) => evidence::note(&config, &check, &group, &text, &by, Utc::now()),
            None => Exit::FAILURE,
        },
        Command::Render { check, group } => render_check(&args.config, &check, &group).await,
        Command::Backfill {
            from,
            to,
            every,
            checks,
        } => {
            let Some(config) = load(&args.config) else {
                return Exit::FAILURE;
            };
            logging::init(config.daemon.log_format, &config.daemon.log_filter);
            let times = evidence::backfill_times(from, to, every, config.daemon.time_zone);
            match (times, evidence::chosen_checks(&config, &checks)) {
                (Ok(times), Ok(checks)) => evidence::backfill(&config, &checks, &times).await,
                (Err(why), _) | (_, Err(why)) => {
                    eprintln!("accesswatch: {why}");
                    Exit::USAGE
                }
            }
        }
        Command::Report {
            from,
            to,
            checks,
            format,
            output,
        } => match load(&args.config) {
            Some(config) => {
                let zone = config.daemon.time_zone;
                let period = (from.resolve(zone), to.resolve(zone));
                evidence::period_report(&config, period, &checks, format, output.as_deref())
            }
            None => Exit::FAILURE,
        },
        Command::VerifyHistory => match load(&args.config) {
            Some(config) => evidence::verify_history(&config),
            None => Exit::FAILURE,
        },
        Command::Standards { json } => {
            let catalog = crate::check::standards::catalog();
            if json {
                outln!("{}", crate::check::standards::to_json(&catalog));
            } else {
                out!("{}", crate::check::standards::render_text(&catalog));
            }
            Exit::OK
        }
    }
}

fn load(path: &std::path::Path) -> Option<Config> {
    load_with(path, &crate::config::Credentials::Environment)
}

fn load_with(path: &std::path::Path, credentials: &crate::config::Credentials) -> Option<Config> {
    match Config::load_with(path, credentials) {
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

async fn check_config(
    path: &std::path::Path,
    connect: bool,
    credentials_directory: Option<std::path::PathBuf>,
) -> Exit {
    let credentials = match credentials_directory {
        Some(dir) => crate::config::Credentials::Directory(dir),
        None => crate::config::Credentials::IfAvailable,
    };
    let Some(config) = load_with(path, &credentials) else {
        return Exit::FAILURE;
    };
    // Warnings go to stderr, one per line, and never fail the check: the
    // file may be right for the machine it will run on.
    for warning in crate::cli::preflight::warnings(&config).await {
        eprintln!("{warning}");
    }
    out!("{}", operator::config_summary(&config, Utc::now()));
    if !connect {
        return Exit::OK;
    }
    let unread = config
        .probes
        .iter()
        .any(|p| matches!(p.probe, crate::config::Probe::Credential { .. }));
    if unread {
        outln!(
            "\nconnections: not tried: some credentials were not read (see the warnings); \
             give --credentials-directory DIR or run it where $CREDENTIALS_DIRECTORY is set"
        );
        return Exit::FAILURE;
    }
    let (lines, all_ok) = crate::cli::preflight::connect(&config, Utc::now()).await;
    outln!("\nconnections:");
    for line in lines {
        outln!("  {line}");
    }
    if all_ok { Exit::OK } else { Exit::FAILURE }
}

async fn run_once(path: &std::path::Path, args: &RunArgs) -> Exit {
    let Some(config) = load(path) else {
        return Exit::UNKNOWN;
    };
    logging::init(config.daemon.log_format, &config.daemon.log_filter);
    let as_of = args
        .as_of
        .map_or_else(Utc::now, |a| a.resolve(config.daemon.time_zone));
    // With --notify the run is recorded in the state store like a daemon
    // run (alert state, outbox), and the outbox is sent before exiting.
    let notifier = if args.notify {
        match (
            crate::state::open(&config.daemon.state),
            Mailer::new(&config.email),
        ) {
            (Ok(store), Ok(mailer)) => Some((
                Arc::new(store),
                crate::notify::delivery::Outgoing {
                    mailer,
                    from: config.email.from.clone(),
                    undeliverable_after: config.alerting.undeliverable_after,
                },
            )),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("accesswatch: {e:#}");
                return Exit::UNKNOWN;
            }
        }
    } else {
        None
    };
    let never = CancellationToken::new();
    let store = notifier.as_ref().map(|(store, _)| store.clone());
    // The history so far, for the trends (none before the first recorded run).
    let recent = match &store {
        Some(store) => store.recent_series(as_of).ok(),
        None => crate::state::open_read_only(&config.daemon.state)
            .and_then(|s| s.recent_series(as_of))
            .ok(),
    }
    .unwrap_or_default();
    let Some(outcome) =
        crate::daemon::run::run(&config, &config.checks, as_of, store, &never).await
    else {
        return Exit::UNKNOWN;
    };
    for warning in report::future_data(as_of, &outcome.results, config.daemon.time_zone) {
        eprintln!("accesswatch: {warning}");
    }
    match args.report {
        ReportFormat::Json => {
            // Written to a string first: a `Value`'s `Display` writes
            // token by token through a formatter, several times slower
            // for the hundreds of groups of a large configuration.
            let json = report::json(as_of, &outcome.results, &recent);
            outln!("{}", serde_json::to_string(&json).unwrap_or_default());
        }
        ReportFormat::Text => out!(
            "{}",
            report::text(as_of, &outcome.results, config.daemon.time_zone)
        ),
    }
    let code = report::exit_code(&outcome.results);
    let Some((store, outgoing)) = notifier else {
        return code;
    };
    match notify_once(&config, &store, &outgoing, &outcome).await {
        Ok((_, untold)) if untold > 0 => {
            // The fallback route (if any) was told, but the routing missed
            // these alerts: the configuration needs a look, which is what
            // UNKNOWN says (even over a critical breach, as issue 14 asks:
            // the people who should act on it were not told).
            eprintln!(
                "accesswatch: {untold} alert(s) matched no [[route]]{}; add a route that follows them",
                match config.routes.iter().find(|r| r.fallback) {
                    Some(route) => format!(" and went to the fallback route {:?}", route.name),
                    None => " and reached nobody".to_owned(),
                }
            );
            Exit::UNKNOWN
        }
        Ok((0, _)) => code,
        Ok((unsent, _)) => {
            // The report was printed, but an alert did not go out: say so
            // loudly, and never report "OK" for such a run.
            eprintln!(
                "accesswatch: {unsent} alert email(s) could not be sent; they stay in the outbox of {}",
                store.describe()
            );
            if code == Exit::CRITICAL {
                Exit::CRITICAL
            } else {
                Exit::UNKNOWN
            }
        }
        Err(e) => {
            eprintln!("accesswatch: {e:#}");
            Exit::UNKNOWN
        }
    }
}

/// Records the run and sends the whole outbox once; how many stay unsent,
/// and how many alerts no ordinary route received.
async fn notify_once(
    config: &Config,
    store: &crate::state::Store,
    outgoing: &crate::notify::delivery::Outgoing,
    outcome: &crate::daemon::run::RunOutcome,
) -> anyhow::Result<(usize, usize)> {
    let recorded = crate::alerts::record::record(
        store,
        &config.record_setup(),
        &outcome.results,
        &outcome.sources,
        outcome.as_of,
    )?;
    crate::notify::delivery::deliver_due(
        store,
        outgoing,
        None,
        &crate::check::clock::Clock::new(Utc::now),
        &crate::notify::delivery::InFlight::default(),
    )
    .await?;
    Ok((store.outbox_stats()?.unsent as usize, recorded.untold))
}

async fn run_daemon(path: &std::path::Path) -> Exit {
    let Some(config) = load(path) else {
        return Exit::CONFIG;
    };
    logging::init(config.daemon.log_format, &config.daemon.log_filter);
    let shutdown = CancellationToken::new();
    let (reload, reloads) = tokio::sync::mpsc::channel(4);
    tokio::spawn(handle_signals(shutdown.clone(), reload));
    match daemon::run(Arc::new(config), shutdown, reloads).await {
        Ok(()) => Exit::OK,
        Err(e) => {
            error!(error = %format!("{e:#}"), "daemon failed to start");
            eprintln!("accesswatch: {e:#}");
            Exit::FAILURE
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

async fn send_test_email(path: &std::path::Path, to: Option<String>) -> Exit {
    let Some(config) = load(path) else {
        return Exit::FAILURE;
    };
    logging::init(config.daemon.log_format, &config.daemon.log_filter);
    let recipients: Vec<String> = match to {
        Some(address) => match mail::parse_mailbox(&address) {
            Ok(a) => vec![a],
            Err(e) => {
                eprintln!("accesswatch: --to {address:?} is not an email address: {e}");
                return Exit::USAGE;
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
        return Exit::USAGE;
    }
    let mailer = match Mailer::new(&config.email) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("accesswatch: {e:#}");
            return Exit::FAILURE;
        }
    };
    let host = mail::host_name();
    let message = mail::test_email(&mailer.describe(), &host);
    match mailer.send(&config.email.from, &recipients, &message).await {
        Ok(()) => {
            outln!(
                "sent a test message to {} through {}",
                recipients.join(", "),
                mailer.describe()
            );
            Exit::OK
        }
        Err(e) => {
            eprintln!("accesswatch: {e:#}");
            Exit::FAILURE
        }
    }
}

fn status(path: &std::path::Path, json: bool) -> Exit {
    let Some(config) = load(path) else {
        return Exit::FAILURE;
    };
    let now = Utc::now();
    let view = crate::state::open_read_only(&config.daemon.state).and_then(|store| {
        let episodes = store.episodes()?;
        let since = episodes.iter().map(|e| e.started_at).min().unwrap_or(now);
        let notes = store.notes(None, since, now + chrono::Duration::seconds(1))?;
        let view = operator::StatusView {
            notes,
            trends: store.trends(now)?,
            nodes: store.nodes()?,
            lease: store.lease()?,
        };
        Ok((episodes, store.outbox_stats()?, view))
    });
    let (episodes, outbox, view) = match view {
        Ok(view) => view,
        Err(e) => {
            eprintln!("accesswatch: {e:#}");
            return Exit::FAILURE;
        }
    };
    let after = config.alerting.undeliverable_after;
    if json {
        outln!(
            "{}",
            operator::status_json(&episodes, &outbox, &view, now, after)
        );
    } else {
        out!(
            "{}",
            operator::status_text(
                &episodes,
                &config.checks,
                &outbox,
                &view,
                now,
                after,
                config.daemon.time_zone
            )
        );
    }
    Exit::OK
}

fn ack(
    path: &std::path::Path,
    check: &str,
    group: &[(String, String)],
    (until, clear): (Option<&str>, bool),
    by: &str,
    note: Option<&str>,
) -> Exit {
    let Some(config) = load(path) else {
        return Exit::FAILURE;
    };
    let now = Utc::now();
    let until = match (until, clear) {
        (_, true) => None,
        (Some(text), false) => match operator::parse_until(text, now, config.daemon.time_zone) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("accesswatch: {e}");
                return Exit::USAGE;
            }
        },
        (None, false) => {
            eprintln!("accesswatch: give --until TIME or --clear");
            return Exit::USAGE;
        }
    };
    let labels = group.iter().cloned().collect();
    let done = crate::state::open_shared(&config.daemon.state)
        .and_then(|store| store.ack(check, &labels, until, by, note, now));
    match done {
        Ok(acked) if acked.episodes == 0 => {
            eprintln!(
                "accesswatch: no open alert of check {check:?} matches; `accesswatch status` lists them"
            );
            Exit::FAILURE
        }
        Ok(acked) => {
            match until {
                Some(t) => out!(
                    "{}",
                    operator::ack_text(check, &acked, t, by, config.daemon.time_zone)
                ),
                None => outln!(
                    "cleared the acknowledgement of {} alert(s) of {check}",
                    acked.episodes
                ),
            }
            Exit::OK
        }
        Err(e) => {
            eprintln!("accesswatch: {e:#}");
            Exit::FAILURE
        }
    }
}

async fn render_check(path: &std::path::Path, check_id: &str, group: &[(String, String)]) -> Exit {
    let Some(config) = load(path) else {
        return Exit::FAILURE;
    };
    let Some(check) = config.checks.iter().find(|c| c.id == check_id) else {
        let ids: Vec<&str> = config.checks.iter().map(|c| c.id.as_str()).collect();
        eprintln!(
            "accesswatch: no check {check_id:?} (checks: {})",
            ids.join(", ")
        );
        return Exit::FAILURE;
    };
    let now = Utc::now();
    let never = CancellationToken::new();
    let Some(outcome) =
        crate::daemon::run::run(&config, std::slice::from_ref(check), now, None, &never).await
    else {
        return Exit::FAILURE;
    };
    let labels = group.iter().cloned().collect();
    let Some(result) = outcome.results.first() else {
        eprintln!("accesswatch: check {check_id:?} was not evaluated");
        return Exit::FAILURE;
    };
    let recent = crate::state::open_read_only(&config.daemon.state)
        .and_then(|s| s.recent_series(now))
        .unwrap_or_default();
    match operator::render_check(&config, result, &labels, now) {
        operator::Rendering::Email(email) => {
            outln!("Subject: {}\n", email.subject);
            outln!("--- text/plain ---\n{}", email.text);
            outln!("--- text/html ---\n{}", email.html);
            for image in &email.images {
                outln!(
                    "--- image/png, Content-ID <{}>, {} bytes ---",
                    image.content_id,
                    image.png.len()
                );
            }
            out!("{}", operator::trend_lines(result, &labels, &recent));
            Exit::OK
        }
        operator::Rendering::Healthy(lines) => {
            out!("{lines}");
            out!("{}", operator::trend_lines(result, &labels, &recent));
            Exit::OK
        }
        operator::Rendering::NoSuchGroup(why) => {
            eprintln!("accesswatch: {why}");
            Exit::FAILURE
        }
        operator::Rendering::NoRoute => {
            eprintln!("accesswatch: no route follows check {check_id:?}");
            Exit::FAILURE
        }
    }
}

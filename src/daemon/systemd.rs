//! Talking to systemd: the only module that knows sd-notify.
//!
//! With `Type=notify` systemd waits for `READY=1`; `STATUS=` shows in
//! `systemctl status`; `WATCHDOG=1` must arrive within `WatchdogSec=` or
//! the service is restarted; `STOPPING=1` and `RELOADING=1` (with
//! `MONOTONIC_USEC=`) mark shutdown and reload. Without `$NOTIFY_SOCKET`
//! (not under systemd) every call does nothing. Failures to notify are
//! logged, never fatal.

use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[
            NotifyState::Reloading,
            now,
            NotifyState::Status("reloading the configuration"),
        ]),
        Err(e) => tracing::warn!(error = %e, "cannot read the monotonic clock for RELOADING=1"),
    }
}

/// `WatchdogSec=` of the unit, when systemd asks for pings (and for this
/// process: `WATCHDOG_PID`).
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled()
}

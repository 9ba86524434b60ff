//! Keeping the session alive: persisting every token rotation, renewing the access token
//! before it expires, and probing Acumatica after an outage to wake the jobs that wait for it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{Connection, ends_session, renew_in};
use crate::acumatica::Client;
use crate::jobs::wake;

/// Stores every new set of tokens the client announces (sealed), while the connection is
/// still the one the client was built for.
pub(super) fn persist_rotations(connection: Connection, generation: u64, client: &Client) {
    let state = (connection, client.watch_tokens());
    crate::supervise::spawn("tokens", state, move |(connection, mut watch)| async move {
        while watch.changed().await.is_ok() {
            let Some(tokens) = watch.borrow_and_update().clone() else {
                continue;
            };
            let v = connection.inner.vault.clone();
            let stored = connection
                .update(generation, |r| {
                    super::seal_tokens(r, &v, &tokens);
                })
                .await;
            match stored {
                Ok(true) => {}
                Ok(false) => return, // a newer connection replaced this one
                Err(e) => tracing::error!(error = %e, "cannot store the renewed Acumatica tokens"),
            }
        }
    });
}

/// Renews the access token shortly before it expires (a quarter of its lifetime, at most a
/// minute, ahead), so that no sync waits for a token. A refused refresh ends the session.
pub(super) fn spawn_renewer(connection: Connection) {
    crate::supervise::spawn("token renewal", connection, |connection| async move {
        loop {
            let changed = connection.inner.changed.notified();
            let record = match connection.record() {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the connection");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            };
            let wait = if record.connected {
                renew_in(&record)
            } else {
                None
            };
            match wait {
                None => changed.await,
                Some(wait) if !wait.is_zero() => {
                    tokio::select! {
                        _ = changed => {}
                        _ = tokio::time::sleep(wait.min(Duration::from_secs(3600))) => {}
                    }
                }
                Some(_) => renew(&connection, record.generation).await,
            }
        }
    });
}

async fn renew(connection: &Connection, generation: u64) {
    let client = match connection.client().await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "no Acumatica client to renew the token with");
            tokio::time::sleep(Duration::from_secs(1)).await;
            return;
        }
    };
    match client.refresh().await {
        // Stored by the rotation watcher; wait for its write before the next round.
        Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        Err(e) if ends_session(&e) => {
            tracing::warn!(error = %e, "the Acumatica session ended");
            connection.session_ended(generation, &e.to_string()).await;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot renew the Acumatica token; trying again shortly");
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

/// Probes Acumatica (one cheap request, with a growing pause) until it answers, then wakes
/// the jobs parked on [`wake::REACHABLE`]. At most one probe runs at a time.
pub(super) fn probe_until_reachable(connection: Connection) {
    if connection.inner.probing.swap(true, Ordering::SeqCst) {
        return;
    }
    crate::supervise::spawn("reachability probe", connection, |connection| async move {
        let mut pause = connection.inner.jobs.config().retry_base_delay;
        loop {
            tokio::time::sleep(pause).await;
            let reachable = match connection.client().await {
                Ok(client) => {
                    !matches!(client.discover_endpoints().await, Err(e) if e.is_unreachable())
                }
                Err(_) => true, // not connected: the jobs wait for "connected" instead
            };
            if reachable {
                break;
            }
            pause = (pause * 2).min(Duration::from_secs(60));
        }
        connection.inner.probing.store(false, Ordering::SeqCst);
        if let Err(e) = connection.inner.jobs.wake(wake::REACHABLE).await {
            tracing::error!(error = %e, "cannot wake the jobs waiting for Acumatica");
        }
    });
}

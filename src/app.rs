//! Wiring: opens the state ([`AppState`]), builds the HTTP router on it, and runs the server
//! until SIGINT or SIGTERM; `rotate-token`.

use std::path::Path;

use anyhow::Context;

use crate::auth::AdminToken;
use crate::config::ServeConfig;
use crate::state::AppState;
use crate::store::Store;

/// `acumatica-bridge serve`.
pub async fn serve(config: ServeConfig) -> anyhow::Result<()> {
    serve_with(config, |_| {}).await
}

/// `serve`, with `setup` called on the opened state before the job workers start (where
/// handlers are registered).
pub async fn serve_with(config: ServeConfig, setup: impl FnOnce(&AppState)) -> anyhow::Result<()> {
    // An empty value (a template's blank variable) is no choice of a database.
    if let Some(url) = config.database.as_deref().filter(|u| !u.trim().is_empty()) {
        anyhow::bail!(
            "PostgreSQL storage is not complete yet: this build cannot use --database / \
             BRIDGE_DATABASE_URL (set to {}); leave it unset to keep the sled store in --data-dir",
            crate::pg::redact(url)
        );
    }
    crate::telemetry::init(config.log_format);
    crate::init_crypto();
    crate::acumatica::base_url::allow_private_hosts(config.allow_private_hosts);
    let listen = config.listen;
    let (state, fresh) = AppState::open(config).await?;
    if let Some(token) = fresh {
        show_new_token(&token);
    }
    state.start(setup).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(addr = %listener.local_addr()?, data_dir = %state.config.data_dir.display(), "acumatica-bridge is listening");
    let router = crate::http::router(state.clone());
    let router = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    state.jobs.shutdown().await?;
    state.store.flush().await?;
    tracing::info!("stopped");
    Ok(())
}

/// `acumatica-bridge rotate-token`.
pub async fn rotate_token(data_dir: &Path) -> anyhow::Result<()> {
    let store = Store::open(data_dir, 8 << 20)?;
    let audit = crate::audit::Audit::open(&store)?;
    let client = crate::audit::ClientAddress {
        peer: Some("command line".into()),
        forwarded_for: None,
    };
    let entry = audit.begin(
        &client,
        "rotateToken",
        "admin token rotated with the rotate-token command",
    )?;
    let rotated = AdminToken::rotate(&store);
    let outcome = match &rotated {
        Ok(_) => crate::audit::AuditOutcome::Succeeded,
        Err(_) => crate::audit::AuditOutcome::Failed,
    };
    let why = rotated
        .as_ref()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    audit.end(entry, outcome, why).await?;
    let (_, fresh) = rotated?;
    show_new_token(&fresh);
    Ok(())
}

/// Prints a new admin token once on stderr, outside the log.
fn show_new_token(token: &str) {
    eprintln!(
        "\n  Admin token (shown once; only its hash is stored):\n\n    {token}\n\n  \
         Use it as `Authorization: Bearer <token>` and to sign in to the console.\n  \
         To rotate it: `acumatica-bridge rotate-token --data-dir <dir>` (with the service \
         stopped), or set BRIDGE_ADMIN_TOKEN.\n"
    );
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

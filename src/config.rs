//! The settings of `serve` (and of `demo`), from flags and `BRIDGE_*` variables as RUNNING.md
//! lists them. A flag wins over its variable. Values are checked as they are parsed, and a bad
//! one is reported with what was expected.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address of the HTTP server.
    #[arg(long, env = "BRIDGE_LISTEN", default_value = "127.0.0.1:8080", value_parser = parse_listen, value_name = "ADDR")]
    pub listen: SocketAddr,

    /// Folder of the sled store and the secret key file.
    #[arg(
        long,
        env = "BRIDGE_DATA_DIR",
        default_value = "./data",
        value_name = "DIR"
    )]
    pub data_dir: PathBuf,

    /// PostgreSQL instead of sled (`postgres://user:password@host/db`): not complete yet, so
    /// `serve` refuses it rather than silently using sled (issue 15; see `pg`).
    #[arg(
        long,
        env = "BRIDGE_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database: Option<String>,

    /// Attempts of a job before it is FAILED.
    #[arg(long, env = "BRIDGE_MAX_ATTEMPTS", default_value_t = 12,
          value_parser = clap::value_parser!(u32).range(1..=1000), value_name = "N")]
    pub max_attempts: u32,

    /// First retry delay in milliseconds; it grows exponentially, with jitter, to a cap.
    #[arg(long, env = "BRIDGE_RETRY_BASE_DELAY_MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000), value_name = "MS")]
    pub retry_base_delay_ms: u64,

    /// SUCCEEDED jobs older than this many hours are pruned (FAILED ones are kept until
    /// retried or pruned with `pruneJobs`).
    #[arg(long, env = "BRIDGE_JOB_RETENTION_HOURS", default_value_t = 168,
          value_parser = clap::value_parser!(u64).range(1..=87_600), value_name = "HOURS")]
    pub job_retention_hours: u64,

    /// Timeout of one request to Acumatica, in milliseconds.
    #[arg(long, env = "BRIDGE_ACUMATICA_TIMEOUT_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(1..=600_000), value_name = "MS")]
    pub acumatica_timeout_ms: u64,

    /// Requests per minute the bridge allows itself against one Acumatica instance.
    #[arg(long, env = "BRIDGE_ACUMATICA_MAX_RPM", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000), value_name = "N")]
    pub acumatica_max_rpm: u32,

    /// Requests in flight at once against one Acumatica instance.
    #[arg(long, env = "BRIDGE_ACUMATICA_MAX_CONCURRENCY", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=64), value_name = "N")]
    pub acumatica_max_concurrency: u32,

    /// After a write whose outcome is unknown, how long to wait before looking it up again (ms).
    #[arg(long, env = "BRIDGE_AMBIGUOUS_RECHECK_DELAY_MS", default_value_t = 60_000,
          value_parser = clap::value_parser!(u64).range(0..=3_600_000), value_name = "MS")]
    pub ambiguous_recheck_delay_ms: u64,

    /// Timeout of one request to the X-Cart store, in milliseconds.
    #[arg(long, env = "BRIDGE_XCART_TIMEOUT_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(1..=600_000), value_name = "MS")]
    pub xcart_timeout_ms: u64,

    /// On stores without `lastRenewDate` filters (X-Cart 5.5.0), how many days back each
    /// import re-reads orders to notice payment changes.
    #[arg(long, env = "BRIDGE_XCART_LOOK_BACK_DAYS", default_value_t = 7,
          value_parser = clap::value_parser!(u64).range(1..=365), value_name = "DAYS")]
    pub xcart_look_back_days: u64,

    /// Poll the X-Cart store at this interval (ms) instead of the store connection's
    /// importIntervalSeconds (for tests and demos).
    #[arg(long, env = "BRIDGE_XCART_POLL_INTERVAL_MS",
          value_parser = clap::value_parser!(u64).range(10..=86_400_000), value_name = "MS")]
    pub xcart_poll_interval_ms: Option<u64>,

    /// How often Acumatica's shipments are polled for the write-back to the store (ms), while
    /// writeBackShipments is on and Acumatica is connected: one request a poll.
    #[arg(long, env = "BRIDGE_SHIPMENT_POLL_INTERVAL_MS", default_value_t = crate::shipments::DEFAULT_POLL_INTERVAL_MS,
          value_parser = clap::value_parser!(u64).range(10..=86_400_000), value_name = "MS")]
    pub shipment_poll_interval_ms: u64,

    /// Allow private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16,
    /// fe80::/10) and shared (100.64/10) hosts as the Base URL and the store URL, e.g. for an
    /// on-premises Acumatica. Loopback is always allowed.
    #[arg(long, env = "BRIDGE_ALLOW_PRIVATE_HOSTS", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_private_hosts: bool,

    /// Log format: human-readable text or one JSON object a line.
    #[arg(
        long,
        env = "BRIDGE_LOG_FORMAT",
        default_value = "text",
        value_name = "FORMAT"
    )]
    pub log_format: LogFormat,

    /// Size of sled's page cache in MiB (bounds the memory the store uses).
    #[arg(long, env = "BRIDGE_CACHE_MB", default_value_t = 16,
          value_parser = clap::value_parser!(u64).range(1..=65_536), value_name = "MIB")]
    pub cache_mb: u64,

    /// Largest HTTP request body accepted, in bytes.
    #[arg(long, env = "BRIDGE_MAX_BODY_BYTES", default_value_t = 1 << 20,
          value_parser = clap::value_parser!(u64).range(1024..=64 << 20), value_name = "BYTES")]
    pub max_body_bytes: u64,

    /// Host names the bridge answers to besides IP addresses and `localhost` (the public
    /// names a reverse proxy forwards; `*` for any). Comma-separated.
    #[arg(
        long,
        env = "BRIDGE_ALLOWED_HOSTS",
        value_delimiter = ',',
        value_name = "NAMES"
    )]
    pub allowed_hosts: Vec<String>,

    /// Time limit of one GraphQL query over HTTP, in milliseconds (mutations run to their end).
    #[arg(long, env = "BRIDGE_GRAPHQL_TIMEOUT_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(100..=600_000), value_name = "MS")]
    pub graphql_timeout_ms: u64,

    /// Open subscription (WebSocket) connections at once.
    #[arg(long, env = "BRIDGE_MAX_WS_CONNECTIONS", default_value_t = 64,
          value_parser = clap::value_parser!(u64).range(1..=10_000), value_name = "N")]
    pub max_ws_connections: u64,

    /// Running subscriptions on one WebSocket connection.
    #[arg(long, env = "BRIDGE_MAX_SUBSCRIPTIONS", default_value_t = 32,
          value_parser = clap::value_parser!(u64).range(1..=10_000), value_name = "N")]
    pub max_subscriptions: u64,

    /// How long a new WebSocket connection may take to send `connection_init`, in milliseconds.
    #[arg(long, env = "BRIDGE_WS_INIT_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..=600_000), value_name = "MS")]
    pub ws_init_timeout_ms: u64,

    /// A token for `GET /metrics` only (besides the admin token), for Prometheus.
    #[arg(
        long,
        env = "BRIDGE_METRICS_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,

    /// How often alert rules are evaluated (ms); order failures are also seen as they happen.
    #[arg(long, env = "BRIDGE_ALERT_CHECK_INTERVAL_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(10..=3_600_000), value_name = "MS")]
    pub alert_check_interval_ms: u64,

    /// Closed alert incidents older than this many days are deleted.
    #[arg(long, env = "BRIDGE_INCIDENT_RETENTION_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3650), value_name = "DAYS")]
    pub incident_retention_days: u64,
}

impl ServeConfig {
    pub fn retry_base_delay(&self) -> Duration {
        Duration::from_millis(self.retry_base_delay_ms)
    }
    /// The job system's settings.
    pub fn jobs(&self) -> crate::jobs::JobsConfig {
        let mut c = crate::jobs::JobsConfig::new(self.max_attempts, self.retry_base_delay());
        c.retention = Duration::from_secs(self.job_retention_hours * 3600);
        // A request to Acumatica in flight at shutdown gets its answer (or its timeout), so
        // that its outcome is recorded rather than left unknown.
        c.shutdown_grace = c
            .shutdown_grace
            .max(self.acumatica_timeout() + Duration::from_secs(2));
        c
    }
    /// Parses `serve`'s settings from arguments (and `BRIDGE_*` variables), as the command
    /// line would; for programs and tests that embed the service.
    pub fn from_args<I, T>(args: I) -> Result<ServeConfig, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{FromArgMatches, Parser};
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            c: ServeConfig,
        }
        let m = <Only as clap::CommandFactory>::command().try_get_matches_from(args)?;
        Ok(Only::from_arg_matches(&m)?.c)
    }
    pub fn graphql_timeout(&self) -> Duration {
        Duration::from_millis(self.graphql_timeout_ms)
    }
    /// The bounds of the subscription endpoint.
    pub fn ws_limits(&self) -> crate::http::WsLimits {
        crate::http::WsLimits {
            max_connections: self.max_ws_connections as usize,
            max_subscriptions: self.max_subscriptions as usize,
            max_message_bytes: 64 << 10,
            init_timeout: Duration::from_millis(self.ws_init_timeout_ms),
        }
    }
    pub fn acumatica_timeout(&self) -> Duration {
        Duration::from_millis(self.acumatica_timeout_ms)
    }
    pub fn ambiguous_recheck_delay(&self) -> Duration {
        Duration::from_millis(self.ambiguous_recheck_delay_ms)
    }
    pub fn shipment_poll_interval(&self) -> Duration {
        Duration::from_millis(self.shipment_poll_interval_ms)
    }
    /// The X-Cart import's settings.
    pub fn store_import(&self) -> crate::store_import::ImportSettings {
        crate::store_import::ImportSettings {
            timeout: Duration::from_millis(self.xcart_timeout_ms),
            look_back: Duration::from_secs(self.xcart_look_back_days * 24 * 3600),
            poll_interval_override: self.xcart_poll_interval_ms.map(Duration::from_millis),
        }
    }
}

/// Parses a listen address such as `127.0.0.1:8080` or `[::1]:8080`.
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| {
        format!(
            "expected an IP address and port such as 127.0.0.1:8080 or [::1]:8080, got \"{text}\""
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        c: ServeConfig,
    }

    #[test]
    fn defaults_match_running_md() {
        let t = T::try_parse_from(["x"]).unwrap();
        assert_eq!(t.c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(t.c.max_attempts, 12);
        assert_eq!(t.c.retry_base_delay_ms, 2000);
        assert_eq!(t.c.acumatica_timeout_ms, 30_000);
        assert_eq!(t.c.acumatica_max_rpm, 60);
        assert_eq!(t.c.acumatica_max_concurrency, 2);
        assert_eq!(t.c.ambiguous_recheck_delay_ms, 60_000);
        assert_eq!(t.c.log_format, LogFormat::Text);
        assert_eq!(t.c.job_retention_hours, 168);
        assert_eq!(t.c.xcart_timeout_ms, 30_000);
        assert_eq!(t.c.xcart_look_back_days, 7);
        assert_eq!(t.c.xcart_poll_interval_ms, None);
        assert!(!t.c.allow_private_hosts);
        let t = T::try_parse_from(["x", "--allow-private-hosts"]).unwrap();
        assert!(t.c.allow_private_hosts);
    }

    #[test]
    fn the_shutdown_grace_outlasts_an_acumatica_request() {
        for timeout in ["1000", "30000", "120000"] {
            let t = T::try_parse_from(["x", "--acumatica-timeout-ms", timeout]).unwrap();
            assert!(
                t.c.jobs().shutdown_grace > t.c.acumatica_timeout(),
                "{timeout}"
            );
        }
    }

    #[test]
    fn bad_listen_says_what_is_wrong() {
        let err = T::try_parse_from(["x", "--listen", "nonsense"])
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("--listen") && err.contains("127.0.0.1:8080"),
            "{err}"
        );
    }
}

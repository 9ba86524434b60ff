//! PostgreSQL storage (issue 15, in progress): the second storage engine, for several bridge
//! instances sharing one database. sled stays the embedded default; nothing in `serve` uses
//! this module yet (see ARCHITECTURE.md, "PostgreSQL (in progress)").
//!
//! [`Pg::connect`] opens a connection pool and brings the schema up to date with the SQL
//! migrations in `migrations/`, embedded in the binary at compile time ([`MIGRATOR`]). Like
//! the sled store's schema version (`store::SCHEMA_VERSION`), a database that a newer build
//! has migrated further is refused with the versions named, never misread; so is one whose
//! applied migration differs from this build's, or one left half-migrated.
//!
//! - [`queue`]: the job queue on PostgreSQL (leases, `FOR UPDATE SKIP LOCKED`, LISTEN/NOTIFY).
//! - [`limiter`]: the Acumatica request limits (per minute, in flight) of all instances together.
//! - [`leader`]: work that runs on one instance at a time (an advisory lock per piece of work).
//! - [`orders`]: the store's orders (`PgOrders`), as the sled orders service keeps them.
//!
//! Queries use sqlx's plain query API (no compile-time checked macros), so that building
//! needs no database.

pub mod leader;
pub mod limiter;
pub mod orders;
pub mod queue;

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};

/// The schema migrations of this build (`migrations/*.sql`, in version order).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("cannot connect to PostgreSQL at {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error(
        "the database at {url} has migration(s) {unknown} applied, written by a newer \
         acumatica-bridge; this build knows migrations up to {supported}. Run the newer build, \
         or point --database elsewhere"
    )]
    TooNew {
        url: String,
        unknown: String,
        supported: i64,
    },
    #[error(
        "migration {version} ({description}) applied to the database at {url} differs from \
         this build's migration {version}: the database was migrated by another build of \
         acumatica-bridge; use that build, or point --database elsewhere"
    )]
    Modified {
        url: String,
        version: i64,
        description: String,
    },
    #[error(
        "migration {version} of the database at {url} did not finish (it is marked failed in \
         _sqlx_migrations); repair the database before starting"
    )]
    Dirty { url: String, version: i64 },
    #[error("migrating the database at {url}: {source}")]
    Migrate {
        url: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("PostgreSQL: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("PostgreSQL: a stored {what} could not be read: {why}")]
    Decode { what: &'static str, why: String },
    #[error("no job with id {0}")]
    NotFound(u64),
    #[error("{0}")]
    Conflict(String),
}

pub type Result<T, E = PgError> = std::result::Result<T, E>;

/// `url` without its password (in the user part or a `password=` parameter), for messages
/// and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            if u.query_pairs().any(|(k, _)| k == "password") {
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if k == "password" {
                            "***".into()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), v)
                    })
                    .collect();
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string()
        }
        Err(_) => "an unparsable database URL".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_passwords_only() {
        assert_eq!(
            redact("postgres://bridge:s3cret@db.example:5432/bridge"),
            "postgres://bridge:***@db.example:5432/bridge"
        );
        assert_eq!(
            redact("postgres://db.example/bridge?user=b&password=s3cret&sslmode=require"),
            "postgres://db.example/bridge?user=b&password=***&sslmode=require"
        );
        assert_eq!(
            redact("postgres://bridge@localhost/bridge"),
            "postgres://bridge@localhost/bridge"
        );
        assert!(!redact("not a url s3cret").contains("s3cret"));
    }

    #[test]
    fn migrations_are_embedded_in_version_order() {
        let versions: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
        assert_eq!(versions, vec![1, 2, 3, 4]);
        assert_eq!(latest_migration(), 4);
    }
}

/// The opened database. Cheap to clone; clones share one pool.
#[derive(Clone, Debug)]
pub struct Pg {
    pool: PgPool,
}

/// How the pool is sized and how long it waits.
#[derive(Debug, Clone)]
pub struct PgOptions {
    pub max_connections: u32,
    /// How long a query waits for a free connection (or the first connect for the server).
    pub acquire_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

impl Pg {
    /// Connects to `url` (`postgres://user:password@host:port/database`), then checks and
    /// applies the migrations.
    pub async fn connect(url: &str) -> Result<Pg> {
        Pg::connect_with(url, PgOptions::default()).await
    }

    pub async fn connect_with(url: &str, options: PgOptions) -> Result<Pg> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect(url)
            .await
            .map_err(|source| PgError::Connect {
                url: redact(url),
                source,
            })?;
        migrate(&pool, url).await?;
        Ok(Pg { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The newest migration applied to the database.
    pub async fn schema_version(&self) -> Result<i64> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
        Ok(v.unwrap_or(0))
    }
}

/// The newest migration this build has.
pub fn latest_migration() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Refuses a database migrated by a newer or another build, then applies what is missing.
/// sqlx's migrator holds an advisory lock while it runs, so that instances starting together
/// migrate one after the other; it checks the applied migrations again under that lock, and
/// its errors are named the same way.
async fn migrate(pool: &PgPool, url: &str) -> Result<()> {
    check_applied(pool, url).await?;
    MIGRATOR.run(pool).await.map_err(|e| {
        use sqlx::migrate::MigrateError as M;
        match e {
            M::VersionMissing(v) => PgError::TooNew {
                url: redact(url),
                unknown: v.to_string(),
                supported: latest_migration(),
            },
            M::VersionMismatch(v) => PgError::Modified {
                url: redact(url),
                version: v,
                description: description_of(v),
            },
            M::Dirty(v) => PgError::Dirty {
                url: redact(url),
                version: v,
            },
            source => PgError::Migrate {
                url: redact(url),
                source,
            },
        }
    })?;
    Ok(())
}

fn description_of(version: i64) -> String {
    MIGRATOR
        .iter()
        .find(|m| m.version == version)
        .map(|m| m.description.to_string())
        .unwrap_or_default()
}

/// The check before migrating, with the full list of unknown versions.
async fn check_applied(pool: &PgPool, url: &str) -> Result<()> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(());
    }
    let applied: Vec<(i64, bool, Vec<u8>)> =
        sqlx::query_as("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
            .fetch_all(pool)
            .await?;
    let unknown: Vec<String> = applied
        .iter()
        .filter(|(v, _, _)| MIGRATOR.iter().all(|m| m.version != *v))
        .map(|(v, _, _)| v.to_string())
        .collect();
    if !unknown.is_empty() {
        return Err(PgError::TooNew {
            url: redact(url),
            unknown: unknown.join(", "),
            supported: latest_migration(),
        });
    }
    for (version, success, checksum) in &applied {
        if !success {
            return Err(PgError::Dirty {
                url: redact(url),
                version: *version,
            });
        }
        let ours = MIGRATOR.iter().find(|m| m.version == *version);
        if let Some(m) = ours
            && *m.checksum != checksum[..]
        {
            return Err(PgError::Modified {
                url: redact(url),
                version: *version,
                description: m.description.to_string(),
            });
        }
    }
    Ok(())
}

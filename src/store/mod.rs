//! The embedded sled store: one database in the data dir, split into named trees.
//!
//! Every other module reaches sled through [`Store`]: it opens the database with a bounded
//! cache, checks the schema version written in the `meta` tree (a store written by a newer
//! build is refused, never misread), hands out typed trees, and offers [`Store::flush`], a
//! group commit: many writers that each need their change on disk share one fsync.

mod flush;
mod packed;
pub mod private;
mod typed;

use std::path::{Path, PathBuf};

pub use flush::{Flusher, Health};
pub use packed::{Packed, PackedTx};
pub use typed::{Typed, decode, encode};

/// The schema version this build writes and reads. Version 2 packed the order indexes
/// (`orders/carry.rs` carries a version 1 store over at start).
pub const SCHEMA_VERSION: u32 = 2;

/// Names of the trees. Kept in one place so that nobody opens a tree under a typo.
pub mod trees {
    pub const META: &str = "meta";
    pub const SETTINGS: &str = "settings";
    pub const ORDERS: &str = "orders";
    /// Index of orders newest first (packed, see [`super::Packed`]):
    /// `!placed_at_micros (8 bytes BE) ++ number` → the order's statuses (see `orders`).
    pub const ORDERS_LIST: &str = "orders_list";
    /// `<sync status>/<payment status>` → how many orders (u64 BE), kept in the same
    /// transaction as the orders; `ready` once counted.
    pub const ORDER_COUNTS: &str = "order_counts";
    /// The list index partitioned by status (packed): `s<sync>\0<list key>`,
    /// `p<payment>\0<list key>`, `c<error class>\0<list key>` → the order's statuses (see
    /// `orders/by_status.rs`).
    pub const ORDERS_BY_STATUS: &str = "orders_by_status";
    /// Search terms (packed): `<tag><term>\0<number>` → the order's `orders_list` key (see
    /// `orders/search.rs`).
    pub const ORDERS_SEARCH: &str = "orders_search";
    /// The order of each Sales Order (packed): `so:<type>:<nbr>` → order number (see
    /// `orders/by_sales_order.rs`), kept in the order's transaction.
    pub const ORDERS_BY_SO: &str = "orders_by_so";
    /// Trees of schema version 1, one sled key per entry, carried over into the packed
    /// trees at start and then dropped (see `orders/carry.rs`).
    pub mod v1 {
        pub const ORDERS_BY_PLACED: &str = "orders_by_placed";
        pub const ORDERS_BY_TERM: &str = "orders_by_term";
        pub const ORDERS_BY_SALES_ORDER: &str = "orders_by_sales_order";
    }
    /// `cursor` → the shipment poll's inclusive `LastModifiedDateTime` cursor (see
    /// `shipments/`).
    pub const SHIPMENTS: &str = "shipments";
    /// Jobs by id: `id (8 bytes BE)` → JobRecord (see `jobs::queue`).
    pub const JOBS: &str = "jobs";
    /// The job queue's indexes (runnable by kind and time, parked, unique keys, by order,
    /// running, succeeded by age), one prefix each (see `jobs::queue`).
    pub const JOBS_INDEX: &str = "jobs_index";
    pub const CONNECTION: &str = "connection";
    pub const LOOKUPS: &str = "lookups";
    /// Customer identifier (`email:…`, `phone:…`, `profile:…`) → Acumatica CustomerID.
    pub const CUSTOMER_MAP: &str = "customer_map";
    /// SKUs known to exist as Acumatica stock items.
    pub const KNOWN_ITEMS: &str = "known_items";
    /// The X-Cart store connection (`xcart` → StoreRecord, with the import's cursors) and
    /// the cursors of running catch-ups (`catchup:<job id>`).
    pub const STORE_CONNECTION: &str = "store_connection";
    /// The audit log of operator actions: `id (8 bytes BE)` → AuditEntry (see `audit`).
    pub const AUDIT: &str = "audit";
    /// Alert rules (`rule:<id>`), incidents (`inc:<id>`) and the open incident of each rule
    /// and subject (`open:<rule><subject>` → incident id), see `alerts::incidents::keys`.
    pub const ALERTS: &str = "alerts";
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {source}")]
    Open { path: PathBuf, source: sled::Error },
    #[error(
        "the store at {path} has schema version {found}, written by a newer acumatica-bridge; \
         this build reads up to version {supported}. Run the newer build, or point --data-dir elsewhere"
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("the store at {path} has an unreadable schema version record")]
    BadVersion { path: PathBuf },
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("cannot make the data dir {path} private (mode 0700, files 0600): {source}")]
    Private {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("store: a record could not be decoded: {0}")]
    Decode(String),
    #[error("store: the flush to disk failed: {0}")]
    Flush(String),
    /// A flush failed earlier: the store takes no more writes.
    #[error("{0}")]
    Unhealthy(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Whether the store at `path` compresses its pages (zstd): every new store does, which
/// keeps an order at under a quarter of its uncompressed size on disk; one created before
/// keeps what its `conf` says, since sled refuses to change it.
fn compresses(path: &Path) -> bool {
    // The file is text followed by a binary checksum.
    match std::fs::read(path.join("conf")) {
        Ok(conf) => !String::from_utf8_lossy(&conf)
            .lines()
            .any(|l| l.trim() == "use_compression: false"),
        Err(_) => true,
    }
}

/// The opened store. Cheap to clone; all clones share one database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    flusher: Flusher,
}

impl Store {
    /// Opens (or creates) the store in `dir`, with sled's page cache bounded to `cache_bytes`.
    /// The dir is made private first ([`private::prepare`]).
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Store> {
        let path = dir.join("store");
        private::prepare(dir).map_err(|e| StoreError::Private {
            path: dir.to_owned(),
            source: e,
        })?;
        let compressed = compresses(&path);
        if !compressed {
            tracing::info!(
                "this store was created without compression (by an older build) and stays so: \
                 sled cannot change it on an existing store"
            );
        }
        let db = sled::Config::new()
            .path(&path)
            .use_compression(compressed)
            .compression_factor(3)
            .cache_capacity(cache_bytes)
            .flush_every_ms(Some(500))
            .open()
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        check_schema_version(&db, &path)?;
        let flusher = Flusher::start(db.clone());
        Ok(Store { db, flusher })
    }

    /// The raw sled database, for transactions across trees.
    pub fn db(&self) -> &sled::Db {
        &self.db
    }

    /// A raw tree by name (see [`trees`]).
    pub fn raw_tree(&self, name: &str) -> Result<sled::Tree> {
        Ok(self.db.open_tree(name)?)
    }

    /// A tree whose values are `V`, stored as JSON.
    pub fn typed<V: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Typed<V>> {
        Ok(Typed::new(self.raw_tree(name)?))
    }

    /// Why the store takes no more writes (a flush failed), if it does not.
    pub fn problem(&self) -> Option<String> {
        self.flusher.health().problem()
    }

    /// Ok while the store takes writes; the reason otherwise.
    pub fn check_writable(&self) -> Result<()> {
        match self.problem() {
            Some(p) => Err(StoreError::Unhealthy(p)),
            None => Ok(()),
        }
    }

    /// Writes a small record and flushes it: proves the store takes writes now (for `/readyz`).
    pub async fn probe_write(&self) -> Result<()> {
        self.check_writable()?;
        let now = chrono::Utc::now().timestamp_millis().to_be_bytes();
        self.db
            .open_tree(trees::META)?
            .insert("ready_probe", &now)?;
        self.flush().await
    }

    /// A store in `dir` whose flushes fail with `why` (to test what follows a full disk).
    #[cfg(test)]
    pub(crate) fn with_failing_flush(dir: &Path, why: &'static str) -> Store {
        let db = sled::Config::new()
            .path(dir.join("store"))
            .temporary(true)
            .open()
            .unwrap();
        Store {
            db,
            flusher: Flusher::start_with(Box::new(move || Err(why.to_owned()))),
        }
    }

    /// How many group-commit fsyncs this store has done (for measurements).
    pub fn syncs(&self) -> u64 {
        self.flusher.syncs()
    }

    /// Returns once everything written before the call is on disk. Concurrent callers share
    /// one fsync (group commit).
    pub async fn flush(&self) -> Result<()> {
        self.flusher.flush().await
    }
}

fn check_schema_version(db: &sled::Db, path: &Path) -> Result<()> {
    let meta = db.open_tree(trees::META)?;
    match meta.get("schema_version")? {
        None => {
            meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
            db.flush()?;
            Ok(())
        }
        Some(bytes) => {
            let raw: [u8; 4] = bytes
                .as_ref()
                .try_into()
                .map_err(|_| StoreError::BadVersion {
                    path: path.to_owned(),
                })?;
            let found = u32::from_be_bytes(raw);
            if found > SCHEMA_VERSION {
                return Err(StoreError::TooNew {
                    path: path.to_owned(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            if found < SCHEMA_VERSION {
                // An older store: what changed is carried over when its trees are opened
                // (each carry-over is marked done in its own tree, so a crash midway repeats
                // it); from now on, older builds refuse the store.
                tracing::info!(
                    found,
                    now = SCHEMA_VERSION,
                    "carrying the store over to a new schema version"
                );
                meta.insert("schema_version", &SCHEMA_VERSION.to_be_bytes())?;
                db.flush()?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            let meta = store.raw_tree(trees::META).unwrap();
            meta.insert("schema_version", &(SCHEMA_VERSION + 1).to_be_bytes())
                .unwrap();
            store.db().flush().unwrap();
        }
        let err = Store::open(dir.path(), 1 << 20).err().expect("must refuse");
        assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
        assert!(err.to_string().contains("newer acumatica-bridge"));
    }

    #[tokio::test]
    async fn a_failed_flush_makes_the_store_unhealthy_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::with_failing_flush(dir.path(), "No space left on device");
        assert!(store.check_writable().is_ok());
        store.raw_tree("t").unwrap().insert("k", "v").unwrap();
        let err = store.flush().await.unwrap_err();
        assert!(matches!(err, StoreError::Unhealthy(_)), "{err}");
        assert!(err.to_string().contains("No space left on device"), "{err}");
        let problem = store.problem().expect("unhealthy");
        assert!(problem.contains("restarted"), "{problem}");
        assert!(store.check_writable().is_err());
        // Refused at once from now on, with the same reason, and the readiness probe says so.
        assert_eq!(store.flush().await.unwrap_err().to_string(), problem);
        assert_eq!(store.probe_write().await.unwrap_err().to_string(), problem);
    }

    #[tokio::test]
    async fn the_readiness_probe_fails_on_the_first_failed_flush() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::with_failing_flush(dir.path(), "No space left on device");
        let err = store.probe_write().await.unwrap_err();
        assert!(err.to_string().contains("No space left on device"), "{err}");
    }

    #[test]
    fn a_new_store_compresses_and_an_older_one_opens_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path(), 1 << 20).unwrap());
        let conf = String::from_utf8_lossy(&std::fs::read(dir.path().join("store/conf")).unwrap())
            .into_owned();
        assert!(conf.contains("use_compression: true"), "{conf}");

        let old = tempfile::tempdir().unwrap();
        {
            let db = sled::Config::new()
                .path(old.path().join("store"))
                .open()
                .unwrap();
            db.open_tree(trees::META)
                .unwrap()
                .insert("schema_version", &SCHEMA_VERSION.to_be_bytes())
                .unwrap();
            db.open_tree("t").unwrap().insert("k", "v").unwrap();
            db.flush().unwrap();
        }
        let store = Store::open(old.path(), 1 << 20).unwrap();
        let v = store.raw_tree("t").unwrap().get("k").unwrap();
        assert_eq!(v.as_deref(), Some(&b"v"[..]));
    }

    #[test]
    fn reopens_its_own_version() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path(), 1 << 20).unwrap());
        Store::open(dir.path(), 1 << 20).unwrap();
    }
}

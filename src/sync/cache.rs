//! What the bridge remembers about Acumatica between syncs, so that a steady-state sync costs
//! one request: which CustomerID answers each customer identifier, and which SKUs exist as
//! stock items. Both are hints, dropped when Acumatica says otherwise. Also per-key locks, so
//! that jobs running side by side create at most one customer per identifier and one stock
//! item per SKU.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::store::{self, Store, trees};

/// The durable maps.
#[derive(Clone)]
pub struct Cache {
    customers: sled::Tree,
    items: sled::Tree,
}

impl Cache {
    pub fn open(store: &Store) -> store::Result<Cache> {
        Ok(Cache {
            customers: store.raw_tree(trees::CUSTOMER_MAP)?,
            items: store.raw_tree(trees::KNOWN_ITEMS)?,
        })
    }

    /// The CustomerID Acumatica answered for this identifier (see `CustomerKey::map_key`).
    pub fn customer(&self, key: &str) -> Option<String> {
        self.customers
            .get(key)
            .ok()
            .flatten()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    pub fn remember_customer(&self, key: &str, customer_id: &str) -> store::Result<()> {
        self.customers.insert(key, customer_id.as_bytes())?;
        Ok(())
    }

    /// Forgets every identifier that points at `customer_id` (Acumatica no longer knows it).
    pub fn forget_customer(&self, customer_id: &str) -> store::Result<()> {
        for entry in self.customers.iter() {
            let (k, v) = entry?;
            if v.as_ref() == customer_id.as_bytes() {
                self.customers.remove(k)?;
            }
        }
        Ok(())
    }

    pub fn knows_item(&self, sku: &str) -> bool {
        self.items.contains_key(sku).unwrap_or(false)
    }

    pub fn remember_item(&self, sku: &str) -> store::Result<()> {
        self.items.insert(sku, &[])?;
        Ok(())
    }

    pub fn forget_item(&self, sku: &str) -> store::Result<()> {
        self.items.remove(sku)?;
        Ok(())
    }
}

/// Async locks by key, created on demand.
#[derive(Clone, Default)]
pub struct KeyedLocks {
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl KeyedLocks {
    pub async fn lock(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.locks.lock().expect("locks");
            if map.len() > 10_000 {
                map.retain(|_, l| Arc::strong_count(l) > 1);
            }
            map.entry(key.to_owned()).or_default().clone()
        };
        lock.lock_owned().await
    }
}

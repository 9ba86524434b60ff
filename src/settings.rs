//! The sync settings service: read the stored settings (defaults until first saved) and save a
//! validated partial update durably.

use crate::domain::FieldError;
use crate::domain::settings::{SettingsPatch, SyncSettings};
use crate::store::{self, Store, StoreError, Typed, trees};

const KEY: &str = "sync";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Invalid(#[from] FieldError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
pub struct Settings {
    store: Store,
    tree: Typed<SyncSettings>,
    /// Serialises saves so that two partial updates never lose each other's fields.
    lock: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Settings {
    pub fn open(store: &Store) -> store::Result<Settings> {
        Ok(Settings {
            store: store.clone(),
            tree: store.typed(trees::SETTINGS)?,
            lock: Default::default(),
        })
    }

    pub fn get(&self) -> store::Result<SyncSettings> {
        Ok(self.tree.get(KEY)?.unwrap_or_default())
    }

    /// Applies `patch` (all or nothing), with `check` as a last say over the result (used to
    /// compare values with Acumatica's lists), and stores it durably.
    pub async fn save(
        &self,
        patch: SettingsPatch,
        check: impl FnOnce(&SyncSettings) -> Result<(), FieldError>,
    ) -> Result<SyncSettings, SettingsError> {
        let _guard = self.lock.lock().await;
        let next = patch.apply(&self.get()?, "input")?;
        check(&next)?;
        self.tree.insert(KEY, &next)?;
        self.store.flush().await?;
        Ok(next)
    }
}

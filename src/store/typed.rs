//! A sled tree whose values are one serde type, stored as JSON.

use std::marker::PhantomData;

use serde::{Serialize, de::DeserializeOwned};

use super::{Result, StoreError};

/// Encodes a value for storage.
pub fn encode<V: Serialize>(value: &V) -> Vec<u8> {
    serde_json::to_vec(value).expect("stored types always serialise")
}

/// Decodes a stored value.
pub fn decode<V: DeserializeOwned>(bytes: &[u8]) -> Result<V> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Decode(e.to_string()))
}

/// A tree of `V` values keyed by bytes.
pub struct Typed<V> {
    tree: sled::Tree,
    _v: PhantomData<fn() -> V>,
}

impl<V> Clone for Typed<V> {
    fn clone(&self) -> Self {
        Typed {
            tree: self.tree.clone(),
            _v: PhantomData,
        }
    }
}

impl<V: Serialize + DeserializeOwned> Typed<V> {
    pub fn new(tree: sled::Tree) -> Self {
        Typed {
            tree,
            _v: PhantomData,
        }
    }

    pub fn raw(&self) -> &sled::Tree {
        &self.tree
    }

    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<V>> {
        self.tree.get(key)?.map(|b| decode(&b)).transpose()
    }

    pub fn insert(&self, key: impl AsRef<[u8]>, value: &V) -> Result<()> {
        self.tree.insert(key.as_ref(), encode(value))?;
        Ok(())
    }

    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<()> {
        self.tree.remove(key)?;
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// Every value, in key order.
    pub fn values(&self) -> impl Iterator<Item = Result<V>> + '_ {
        self.tree
            .iter()
            .map(|r| r.map_err(StoreError::from).and_then(|(_, v)| decode(&v)))
    }
}

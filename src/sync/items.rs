//! Making sure every SKU of the order exists as an Acumatica stock item. Known SKUs cost no
//! request; unknown ones are looked up together in one request; missing ones are created
//! (with "create new products" on: one create per SKU even with jobs side by side, and a 412
//! means it exists now) or fail the sync naming every missing SKU at once.

use std::collections::BTreeSet;

use super::Syncer;
use crate::acumatica::{self, Client, Filter, PutMode, Query, StockItem};
use crate::domain::order::NewOrder;
use crate::domain::settings::SyncSettings;

pub(super) enum Problem {
    /// SKUs missing in Acumatica while "create new products" is off.
    Missing(Vec<String>),
    Acumatica(acumatica::Error),
}

impl From<acumatica::Error> for Problem {
    fn from(e: acumatica::Error) -> Self {
        Problem::Acumatica(e)
    }
}

/// Largest number of SKUs looked up in one request.
const LOOKUP_BATCH: usize = 20;

impl Syncer {
    pub(super) async fn ensure_items(
        &self,
        client: &Client,
        order: &NewOrder,
        settings: &SyncSettings,
    ) -> Result<(), Problem> {
        let skus: BTreeSet<String> = order
            .items
            .iter()
            .map(|i| i.sku.trim().to_owned())
            .collect();
        let unknown: Vec<String> = skus
            .into_iter()
            .filter(|s| !self.cache.knows_item(s))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let mut missing = vec![];
        for batch in unknown.chunks(LOOKUP_BATCH) {
            let filter = batch
                .iter()
                .map(|sku| Filter::eq("InventoryID", sku.as_str()))
                .reduce(Filter::or)
                .expect("a batch is never empty");
            let query = Query::new().filter(filter).select(&["InventoryID"]);
            let found: Vec<StockItem> = client.list(&query).await?;
            for sku in batch {
                let exists = found.iter().any(|i| {
                    i.inventory_id
                        .as_deref()
                        .is_some_and(|id| id.trim().eq_ignore_ascii_case(sku))
                });
                if exists {
                    self.remember_item(sku);
                } else {
                    missing.push(sku.clone());
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        if !settings.create_new_products {
            return Err(Problem::Missing(missing));
        }
        for sku in missing {
            let _guard = self.locks.lock(&format!("sku:{sku}")).await;
            if self.cache.knows_item(&sku) {
                continue;
            }
            let line = order
                .items
                .iter()
                .find(|i| i.sku.trim() == sku)
                .expect("the SKU is the order's");
            let item = StockItem {
                inventory_id: Some(sku.clone()),
                description: Some(line.name.clone()),
                default_price: Some(line.price),
                item_class: settings.item_class.clone(),
                posting_class: settings.posting_class.clone(),
                tax_category: settings.tax_category_id.clone(),
                default_warehouse_id: line
                    .warehouse_id
                    .clone()
                    .or_else(|| settings.warehouse_id.clone()),
                reason_code_subaccount: settings.reason_code_subaccount.clone(),
                ..Default::default()
            };
            match client
                .put(
                    &item,
                    PutMode::Insert,
                    &Query::new().select(&["InventoryID"]),
                )
                .await
            {
                Ok(_) | Err(acumatica::Error::AlreadyExists { .. }) => self.remember_item(&sku),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn remember_item(&self, sku: &str) {
        if let Err(e) = self.cache.remember_item(sku) {
            tracing::warn!(error = %e, "cannot remember a stock item");
        }
    }
}

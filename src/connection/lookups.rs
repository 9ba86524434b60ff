//! Reading the settings' drop-down lists from Acumatica: customer classes, item classes,
//! subaccounts, tax categories, warehouses and payment methods with their cash accounts (no
//! entity of its own either); posting classes, which no standard endpoint
//! offers as an entity, are the distinct PostingClass values of the item classes. A list
//! Acumatica refuses (403: a feature switched off) is left empty with the reason recorded.

use std::collections::BTreeSet;

use chrono::Utc;

use super::{Connection, KEY, LookupOption, Lookups};
use crate::acumatica::{
    self, Client, CustomerClass, Entity, ErrorKind, ItemClass, PaymentMethod, Query, Subaccount,
    TaxCategory, Warehouse,
};

const PAGE: u32 = 500;

/// Reads one list; `Ok(None)` when Acumatica refuses it for good (reason recorded).
async fn read<E: Entity>(
    client: &Client,
    select: &'static [&'static str],
    unavailable: &mut Vec<(String, String)>,
    name: &str,
) -> Result<Vec<E>, acumatica::Error> {
    let query = Query::new().select(select);
    match client.list_all::<E>(&query, PAGE).await {
        Ok(v) => Ok(v),
        Err(e) if e.kind() == ErrorKind::Permanent && super::ends_session(&e) => Err(e),
        Err(e) if e.kind() == ErrorKind::Permanent => {
            unavailable.push((name.to_owned(), e.to_string()));
            Ok(vec![])
        }
        Err(e) => Err(e),
    }
}

fn option(id: Option<String>, description: Option<String>) -> Option<LookupOption> {
    let id = id?.trim().to_owned();
    (!id.is_empty()).then(|| LookupOption {
        id,
        description: description.filter(|d| !d.trim().is_empty()),
    })
}

fn sorted(mut v: Vec<LookupOption>) -> Vec<LookupOption> {
    v.sort_by(|a, b| a.id.cmp(&b.id));
    v.dedup_by(|a, b| a.id == b.id);
    v
}

/// Reads the six lists, calling `progress(done, name)` after each, and stores them.
pub(super) async fn refresh(
    connection: &Connection,
    client: &Client,
    progress: impl Fn(u32, &str),
) -> Result<(), acumatica::Error> {
    let mut unavailable = vec![];
    let customer_classes: Vec<CustomerClass> = read(
        client,
        &["ClassID", "Description"],
        &mut unavailable,
        "customerClasses",
    )
    .await?;
    progress(1, "customer classes");
    let item_classes: Vec<ItemClass> = read(
        client,
        &["ClassID", "Description", "PostingClass"],
        &mut unavailable,
        "itemClasses",
    )
    .await?;
    progress(2, "item and posting classes");
    let subaccounts: Vec<Subaccount> = read(
        client,
        &["SubaccountCD", "Description"],
        &mut unavailable,
        "subaccounts",
    )
    .await?;
    progress(3, "subaccounts");
    let tax_categories: Vec<TaxCategory> = read(
        client,
        &["TaxCategoryID", "Description"],
        &mut unavailable,
        "taxCategories",
    )
    .await?;
    progress(4, "tax categories");
    let warehouses: Vec<Warehouse> = read(
        client,
        &["WarehouseID", "Description"],
        &mut unavailable,
        "warehouses",
    )
    .await?;
    progress(5, "warehouses");
    let methods: Vec<PaymentMethod> = match client
        .list_all::<PaymentMethod>(&Query::new().expand(&["AllowedCashAccounts"]), PAGE)
        .await
    {
        Ok(v) => v,
        Err(e) if e.kind() == ErrorKind::Permanent && !super::ends_session(&e) => {
            unavailable.push(("paymentMethods".to_owned(), e.to_string()));
            unavailable.push(("cashAccounts".to_owned(), e.to_string()));
            vec![]
        }
        Err(e) => return Err(e),
    };
    progress(6, "payment methods and cash accounts");
    let receivable = || {
        methods
            .iter()
            .filter(|m| m.use_in_ar != Some(false) && m.active != Some(false))
    };
    let payment_methods = sorted(
        receivable()
            .filter_map(|m| option(m.payment_method_id.clone(), m.description.clone()))
            .collect(),
    );
    let cash_accounts = sorted(
        receivable()
            .flat_map(|m| m.allowed_cash_accounts.iter().flatten())
            .filter(|a| a.use_in_ar != Some(false))
            .filter_map(|a| option(a.cash_account.clone(), a.description.clone()))
            .collect(),
    );
    let posting: BTreeSet<String> = item_classes
        .iter()
        .filter_map(|c| c.posting_class.clone())
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    if unavailable.iter().any(|(n, _)| n == "itemClasses") {
        unavailable.push((
            "postingClasses".into(),
            "derived from the item classes, which Acumatica refused".into(),
        ));
    }
    let lookups = Lookups {
        customer_classes: sorted(
            customer_classes
                .into_iter()
                .filter_map(|c| option(c.class_id, c.description))
                .collect(),
        ),
        posting_classes: posting
            .into_iter()
            .map(|id| LookupOption {
                id,
                description: None,
            })
            .collect(),
        item_classes: sorted(
            item_classes
                .into_iter()
                .filter_map(|c| option(c.class_id, c.description))
                .collect(),
        ),
        subaccounts: sorted(
            subaccounts
                .into_iter()
                .filter_map(|s| option(s.subaccount_cd, s.description))
                .collect(),
        ),
        tax_categories: sorted(
            tax_categories
                .into_iter()
                .filter_map(|t| option(t.tax_category_id, t.description))
                .collect(),
        ),
        warehouses: sorted(
            warehouses
                .into_iter()
                .filter_map(|w| option(w.warehouse_id, w.description))
                .collect(),
        ),
        payment_methods,
        cash_accounts,
        refreshed_at: Some(Utc::now()),
        unavailable,
    };
    let stored =
        connection
            .inner
            .lookups
            .insert(KEY, &lookups)
            .map_err(|e| acumatica::Error::Transient {
                reason: acumatica::TransientReason::Server,
                message: format!("The lookups cannot be stored: {e}"),
                retry_after: None,
                ambiguous: false,
            });
    stored?;
    if let Err(e) = connection.inner.store.flush().await {
        tracing::error!(error = %e, "cannot flush the lookups");
    }
    Ok(())
}

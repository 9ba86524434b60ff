//! Finding the order's customer in Acumatica, or creating it, following X-Cart's fallbacks.
//!
//! The identifier map is consulted first (no request in the steady state). Otherwise, under a
//! lock per identifier so that side-by-side jobs create one customer at most: look up every
//! identifier in one request (one `$filter` joined with `or`: email and phone on the main
//! contact, the profile ID as CustomerID), ranked here in the setting's order; if none
//! matches, create the customer from the billing address.

use super::Syncer;
use super::plan::{self, CustomerKey};
use super::sales_order::address;
use crate::acumatica::{self, Client, Contact, Customer, Filter, PutMode, Query};
use crate::domain::order::NewOrder;
use crate::domain::settings::SyncSettings;

/// The customer to use, with any warning (two customers share the identifier).
pub(super) struct Found {
    pub customer_id: String,
    pub warnings: Vec<String>,
}

pub(super) enum Problem {
    /// The order cannot be matched (PROFILE_ID without a profile ID).
    Unmatchable(String),
    Acumatica(acumatica::Error),
}

impl From<acumatica::Error> for Problem {
    fn from(e: acumatica::Error) -> Self {
        Problem::Acumatica(e)
    }
}

impl Syncer {
    pub(super) async fn customer(
        &self,
        client: &Client,
        order: &NewOrder,
        settings: &SyncSettings,
    ) -> Result<Found, Problem> {
        let keys = plan::customer_keys(order, settings.customer_id_source);
        let Some(primary) = keys.first().cloned() else {
            return Err(Problem::Unmatchable(format!(
                "The Customer ID setting is Profile ID, but order {} has no profile ID: record it with one, or change the setting.",
                order.number
            )));
        };
        let from_map =
            |keys: &[CustomerKey]| keys.iter().find_map(|k| self.cache.customer(&k.map_key()));
        if let Some(customer_id) = from_map(&keys) {
            return Ok(Found {
                customer_id,
                warnings: vec![],
            });
        }
        let _guard = self.locks.lock(&primary.map_key()).await;
        if let Some(customer_id) = from_map(&keys) {
            return Ok(Found {
                customer_id,
                warnings: vec![],
            });
        }
        if let Some((key, found)) = find(client, &keys).await? {
            self.remember(&[&primary, &key], &found.customer_id);
            return Ok(found);
        }
        let (customer_id, warnings) = create(client, order, settings, &primary).await?;
        self.remember(&[&primary], &customer_id);
        Ok(Found {
            customer_id,
            warnings,
        })
    }

    fn remember(&self, keys: &[&CustomerKey], customer_id: &str) {
        for key in keys {
            if let Err(e) = self.cache.remember_customer(&key.map_key(), customer_id) {
                tracing::warn!(error = %e, "cannot remember a customer");
            }
        }
    }
}

const SELECT: &[&str] = &[
    "CustomerID",
    "CustomerName",
    "MainContact/Email",
    "MainContact/Phone1",
];

/// Looks every identifier up in one request and takes the first one, in `keys`' order, that
/// some customer matches.
async fn find(
    client: &Client,
    keys: &[CustomerKey],
) -> Result<Option<(CustomerKey, Found)>, acumatica::Error> {
    let Some(filter) = keys.iter().map(key_filter).reduce(Filter::or) else {
        return Ok(None);
    };
    let query = Query::new()
        .filter(filter)
        .expand(&["MainContact"])
        .select(SELECT)
        .top(20);
    let found: Vec<Customer> = client.list(&query).await?;
    if found.is_empty() {
        return Ok(None);
    }
    // Acumatica's comparison may differ from ours (case, spacing): what matches none of the
    // keys here still matched one there, and counts for the first.
    let ranked = keys
        .iter()
        .find_map(|key| {
            let ids = ids(found.iter().filter(|c| matches(key, c)));
            (!ids.is_empty()).then(|| (key.clone(), ids))
        })
        .unwrap_or_else(|| (keys[0].clone(), ids(found.iter())));
    let (key, ids) = ranked;
    let Some(first) = ids.first().cloned() else {
        return Ok(None);
    };
    let warnings = if ids.len() > 1 {
        vec![format!(
            "{} Acumatica customers match {}: {}. The order went to {first}, the first by CustomerID.",
            ids.len(),
            describe(&key),
            ids.join(", ")
        )]
    } else {
        vec![]
    };
    Ok(Some((
        key,
        Found {
            customer_id: first,
            warnings,
        },
    )))
}

fn key_filter(key: &CustomerKey) -> Filter {
    match key {
        CustomerKey::Email(email) => Filter::eq("MainContact/Email", email.as_str()),
        CustomerKey::Phone(phone) => Filter::eq("MainContact/Phone1", phone.as_str()),
        CustomerKey::ProfileId(id) => Filter::eq("CustomerID", id.as_str()),
    }
}

/// Does customer `c` carry identifier `key`?
fn matches(key: &CustomerKey, c: &Customer) -> bool {
    let contact = c.main_contact.as_ref();
    let same =
        |a: Option<&str>, b: &str| a.is_some_and(|a| a.trim().eq_ignore_ascii_case(b.trim()));
    match key {
        CustomerKey::Email(e) => same(contact.and_then(|m| m.email.as_deref()), e),
        CustomerKey::Phone(p) => contact
            .and_then(|m| m.phone1.as_deref())
            .is_some_and(|x| plan::normalise_phone(x) == plan::normalise_phone(p)),
        CustomerKey::ProfileId(id) => same(c.customer_id.as_deref(), id),
    }
}

/// The distinct CustomerIDs, sorted.
fn ids<'a>(customers: impl Iterator<Item = &'a Customer>) -> Vec<String> {
    let mut ids: Vec<String> = customers.filter_map(|c| c.customer_id.clone()).collect();
    ids.sort();
    ids.dedup();
    ids
}

fn describe(key: &CustomerKey) -> String {
    match key {
        CustomerKey::Email(e) => format!("email {e}"),
        CustomerKey::Phone(p) => format!("phone {p}"),
        CustomerKey::ProfileId(id) => format!("profile ID {id}"),
    }
}

/// Creates the customer from the billing address; returns the CustomerID Acumatica gave it
/// (instances may renumber what was sent), with a warning when it had to be chosen here.
///
/// Without a profile ID the CustomerID is left to Acumatica's auto-numbering. A tenant that
/// numbers customers manually refuses that with a 422 on CustomerID: then the create is sent
/// again, insert-only, with the CustomerID derived from the identifier
/// ([`plan::derived_customer_id`]), and the order's warnings say so.
async fn create(
    client: &Client,
    order: &NewOrder,
    settings: &SyncSettings,
    primary: &CustomerKey,
) -> Result<(String, Vec<String>), acumatica::Error> {
    let billing = &order.billing_address;
    let name = super::sales_order::name(billing)
        .or_else(|| billing.company.clone())
        .unwrap_or_else(|| order.email.clone());
    let mut customer = Customer {
        customer_id: match primary {
            CustomerKey::ProfileId(id) => Some(id.clone()),
            _ => None,
        },
        customer_name: Some(name),
        customer_class: settings.customer_class.clone(),
        main_contact: Some(Contact {
            email: Some(order.email.clone()),
            phone1: billing.phone.clone().or_else(|| order.phone.clone()),
            first_name: billing.first_name.clone(),
            last_name: billing.last_name.clone(),
            company_name: billing.company.clone(),
            address: Some(address(billing)),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mode = match primary {
        CustomerKey::ProfileId(_) => PutMode::Insert,
        _ => PutMode::Upsert,
    };
    match save(client, &customer, mode, primary).await {
        Err(e) if customer.customer_id.is_none() && wants_customer_id(&e) => {
            let id = plan::derived_customer_id(primary);
            customer.customer_id = Some(id.clone());
            let saved = save(client, &customer, PutMode::Insert, primary).await?;
            let warning = format!(
                "Acumatica numbers customers manually: created customer {saved} with a CustomerID derived from the {}",
                describe(primary)
            );
            Ok((saved, vec![warning]))
        }
        other => Ok((other?, vec![])),
    }
}

/// A 422 that names CustomerID: the tenant wants it given (manual numbering).
fn wants_customer_id(e: &acumatica::Error) -> bool {
    e.status() == Some(422) && e.field_errors().iter().any(|f| f.field == "CustomerID")
}

/// Sends the create; an existing record (an earlier attempt whose answer was lost) is adopted.
async fn save(
    client: &Client,
    customer: &Customer,
    mode: PutMode,
    primary: &CustomerKey,
) -> Result<String, acumatica::Error> {
    let saved = match client
        .put(customer, mode, &Query::new().select(&["CustomerID"]))
        .await
    {
        Err(acumatica::Error::AlreadyExists { .. }) => {
            if let Some((_, found)) = find(client, std::slice::from_ref(primary)).await? {
                return Ok(found.customer_id);
            }
            return Err(acumatica::Error::Transient {
                reason: acumatica::TransientReason::Server,
                message: "The customer exists in Acumatica but cannot be read yet.".into(),
                retry_after: None,
                ambiguous: false,
            });
        }
        other => other?,
    };
    saved
        .customer_id
        .ok_or_else(|| acumatica::Error::Transient {
            reason: acumatica::TransientReason::Server,
            message: "Acumatica created the customer but answered without its CustomerID.".into(),
            retry_after: None,
            ambiguous: true,
        })
}

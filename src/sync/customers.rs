//! Finding the order's customer in Acumatica, or creating it, following X-Cart's fallbacks.
//!
//! The identifier map is consulted first (no request in the steady state). Otherwise, under a
//! lock per identifier so that side-by-side jobs create one customer at most: look up each
//! identifier in order (email and phone on the main contact, the profile ID as the
//! CustomerID key); if none matches, create the customer from the billing address.

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
        for key in &keys {
            if let Some(found) = find(client, key).await? {
                self.remember(&[&primary, key], &found.customer_id);
                return Ok(found);
            }
        }
        let customer_id = create(client, order, settings, &primary).await?;
        self.remember(&[&primary], &customer_id);
        Ok(Found {
            customer_id,
            warnings: vec![],
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

/// Looks one identifier up in Acumatica.
async fn find(client: &Client, key: &CustomerKey) -> Result<Option<Found>, acumatica::Error> {
    let query = |filter: Filter| {
        Query::new()
            .filter(filter)
            .expand(&["MainContact"])
            .select(SELECT)
            .top(10)
    };
    let found: Vec<Customer> = match key {
        CustomerKey::Email(email) => {
            client
                .list(&query(Filter::eq("MainContact/Email", email.as_str())))
                .await?
        }
        CustomerKey::Phone(phone) => {
            client
                .list(&query(Filter::eq("MainContact/Phone1", phone.as_str())))
                .await?
        }
        CustomerKey::ProfileId(id) => match client
            .get::<Customer>(&[id.as_str()], &Query::new().select(&["CustomerID"]))
            .await
        {
            Ok(c) => vec![c],
            Err(acumatica::Error::NotFound { .. }) => vec![],
            Err(e) => return Err(e),
        },
    };
    let mut ids: Vec<String> = found.into_iter().filter_map(|c| c.customer_id).collect();
    ids.sort();
    ids.dedup();
    let Some(first) = ids.first().cloned() else {
        return Ok(None);
    };
    let warnings = if ids.len() > 1 {
        vec![format!(
            "{} Acumatica customers match {}: {}. The order went to {first}, the first by CustomerID.",
            ids.len(),
            describe(key),
            ids.join(", ")
        )]
    } else {
        vec![]
    };
    Ok(Some(Found {
        customer_id: first,
        warnings,
    }))
}

fn describe(key: &CustomerKey) -> String {
    match key {
        CustomerKey::Email(e) => format!("email {e}"),
        CustomerKey::Phone(p) => format!("phone {p}"),
        CustomerKey::ProfileId(id) => format!("profile ID {id}"),
    }
}

/// Creates the customer from the billing address; returns the CustomerID Acumatica gave it
/// (instances may renumber what was sent).
async fn create(
    client: &Client,
    order: &NewOrder,
    settings: &SyncSettings,
    primary: &CustomerKey,
) -> Result<String, acumatica::Error> {
    let billing = &order.billing_address;
    let name = super::sales_order::name(billing)
        .or_else(|| billing.company.clone())
        .unwrap_or_else(|| order.email.clone());
    let customer = Customer {
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
    let saved = match client
        .put(&customer, mode, &Query::new().select(&["CustomerID"]))
        .await
    {
        Err(acumatica::Error::AlreadyExists { .. }) => {
            // Created meanwhile (e.g. by an earlier attempt whose answer was lost): adopt it.
            if let Some(found) = find(client, primary).await? {
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

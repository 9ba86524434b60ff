//! What is stored about the Acumatica connection: the details the operator gave (secrets
//! sealed), the session's tokens (sealed), and the status the API shows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::FieldError;
use crate::domain::settings::SyncSettings;
use crate::secrets::Sealed;

/// The stored connection. Secrets are sealed with the vault, bound to their field name.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionRecord {
    /// True while the stored tokens are valid or can be refreshed.
    pub connected: bool,
    pub base_url: Option<String>,
    pub tenant: Option<String>,
    pub username: Option<String>,
    pub client_id: Option<String>,
    pub endpoint_name: Option<String>,
    pub endpoint_version: Option<String>,
    pub password: Option<Sealed>,
    pub client_secret: Option<Sealed>,
    pub access_token: Option<Sealed>,
    pub refresh_token: Option<Sealed>,
    pub token_issued_at: Option<DateTime<Utc>>,
    pub token_expires_at: Option<DateTime<Utc>>,
    /// The Base URL form that worked (the site root when `/t/<tenant>` was refused).
    pub api_base: Option<String>,
    pub connected_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Bumped by every connect and reset, so that a job started for an older connection
    /// can tell that it is stale.
    pub generation: u64,
}

/// The connection as the API shows it: never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionView {
    pub connected: bool,
    pub base_url: Option<String>,
    pub tenant: Option<String>,
    pub username: Option<String>,
    pub client_id: Option<String>,
    pub endpoint_name: Option<String>,
    pub endpoint_version: Option<String>,
    pub connected_at: Option<DateTime<Utc>>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

impl From<&ConnectionRecord> for ConnectionView {
    fn from(r: &ConnectionRecord) -> Self {
        ConnectionView {
            connected: r.connected,
            base_url: r.base_url.clone(),
            tenant: r.tenant.clone(),
            username: r.username.clone(),
            client_id: r.client_id.clone(),
            endpoint_name: r.endpoint_name.clone(),
            endpoint_version: r.endpoint_version.clone(),
            connected_at: r.connected_at.filter(|_| r.connected),
            token_expires_at: r.token_expires_at.filter(|_| r.connected),
            last_error: r.last_error.clone(),
        }
    }
}

/// One entry of a drop-down read from Acumatica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupOption {
    pub id: String,
    pub description: Option<String>,
}

/// The lists read from Acumatica for the settings' drop-downs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Lookups {
    pub customer_classes: Vec<LookupOption>,
    pub item_classes: Vec<LookupOption>,
    /// Not an entity in the standard endpoints: the distinct PostingClass values of the
    /// item classes.
    pub posting_classes: Vec<LookupOption>,
    pub subaccounts: Vec<LookupOption>,
    pub tax_categories: Vec<LookupOption>,
    pub warehouses: Vec<LookupOption>,
    /// Payment methods used in Accounts Receivable.
    pub payment_methods: Vec<LookupOption>,
    /// Not an entity in the standard endpoints: the cash accounts the payment methods allow.
    pub cash_accounts: Vec<LookupOption>,
    pub refreshed_at: Option<DateTime<Utc>>,
    /// Lists Acumatica refused (e.g. 403: a feature switched off), by list name, with why.
    pub unavailable: Vec<(String, String)>,
}

impl Lookups {
    /// Checks the settings' Acumatica values against the loaded lists: a value must be one of
    /// its list's ids. A list not loaded (never read, or refused by Acumatica) accepts any.
    pub fn check(&self, s: &SyncSettings) -> Result<(), FieldError> {
        let checks = [
            (
                "input.customerClass",
                &s.customer_class,
                &self.customer_classes,
            ),
            ("input.itemClass", &s.item_class, &self.item_classes),
            (
                "input.postingClass",
                &s.posting_class,
                &self.posting_classes,
            ),
            (
                "input.reasonCodeSubaccount",
                &s.reason_code_subaccount,
                &self.subaccounts,
            ),
            (
                "input.taxCategoryId",
                &s.tax_category_id,
                &self.tax_categories,
            ),
            ("input.warehouseId", &s.warehouse_id, &self.warehouses),
            (
                "input.paymentMethod",
                &s.payment_method,
                &self.payment_methods,
            ),
            ("input.cashAccount", &s.cash_account, &self.cash_accounts),
        ];
        for (field, value, list) in checks {
            let Some(value) = value else { continue };
            in_list(field, value, list)?;
        }
        for (i, row) in s.payment_method_map.iter().enumerate() {
            let at = |name: &str| format!("input.paymentMethodMap.{i}.{name}");
            in_list(
                &at("paymentMethod"),
                &row.payment_method,
                &self.payment_methods,
            )?;
            in_list(&at("cashAccount"), &row.cash_account, &self.cash_accounts)?;
        }
        Ok(())
    }
}

/// The one check of a setting against a lookup list: passes when the list is not loaded
/// (empty) or holds `value` (case aside); else names `field` and what is allowed.
fn in_list(field: &str, value: &str, list: &[LookupOption]) -> Result<(), FieldError> {
    if list.is_empty() || list.iter().any(|o| o.id.eq_ignore_ascii_case(value)) {
        return Ok(());
    }
    let allowed: Vec<&str> = list.iter().map(|o| o.id.as_str()).collect();
    Err(FieldError::new(
        field,
        format!(
            "\"{value}\" is not in Acumatica's list; allowed: {}",
            allowed.join(", ")
        ),
    ))
}

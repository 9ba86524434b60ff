//! Sync settings: how orders become Sales Orders (mode, matching, classes, warehouse) and how
//! their payments are recorded.

use serde::{Deserialize, Serialize};

use super::FieldError;
use super::order::text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderSyncMode {
    AutomaticAfterPayment,
    ManualOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CustomerIdSource {
    Email,
    Phone,
    ProfileId,
}

/// The kind of Acumatica document a store payment becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentType {
    #[default]
    Prepayment,
    Payment,
}

impl PaymentType {
    /// Its name in Acumatica (`DocType`, `Type`).
    pub fn acumatica(self) -> &'static str {
        match self {
            PaymentType::Prepayment => "Prepayment",
            PaymentType::Payment => "Payment",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StockItemIdSource {
    Sku,
}

/// The stored settings. New fields get serde defaults so older records still read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncSettings {
    pub order_sync_mode: OrderSyncMode,
    pub create_new_products: bool,
    pub customer_id_source: CustomerIdSource,
    pub stock_item_id_source: StockItemIdSource,
    pub sales_order_type: String,
    pub order_number_prefix: Option<String>,
    /// Send prefix + store number as the Sales Order's OrderNbr (for order types numbered
    /// manually): the create itself is then idempotent.
    pub use_store_number_as_order_nbr: bool,
    pub customer_class: Option<String>,
    pub item_class: Option<String>,
    pub posting_class: Option<String>,
    pub reason_code_subaccount: Option<String>,
    pub tax_category_id: Option<String>,
    pub warehouse_id: Option<String>,
    /// The time zone (IANA name) whose calendar day of the order's placement becomes the
    /// Sales Order's Date: the ERP's business time zone.
    pub order_date_time_zone: String,
    /// Record the store's payment of a PAID order in Acumatica (only once a payment method
    /// and a cash account are set: see [`SyncSettings::payment_account`]).
    pub record_payments: bool,
    pub payment_type: PaymentType,
    /// The Acumatica PaymentMethodID payments are recorded with.
    pub payment_method: Option<String>,
    /// The Acumatica CashAccount payments are deposited to (one the method allows).
    pub cash_account: Option<String>,
    /// Write confirmed Acumatica shipments back to the store (shipping status and tracking
    /// numbers; needs the store's read/write API token). Off by default.
    pub write_back_shipments: bool,
    /// Create a credit memo in Acumatica for each refund the store reports after the sync
    /// (instead of leaving the order NEEDS_ATTENTION for a person to do it). Off by default.
    pub create_refund_credits: bool,
    /// Release each payment in Acumatica (the `ReleasePayment` action) once it exists.
    pub release_payments: bool,
    /// Store payment method names mapped to an Acumatica payment method and cash account;
    /// an order whose method is not listed uses `payment_method` and `cash_account`.
    pub payment_method_map: Vec<PaymentMethodMapping>,
}

/// One row of [`SyncSettings::payment_method_map`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethodMapping {
    /// The store's payment method name (X-Cart's `payment_method_name`), compared without
    /// regard to case or surrounding spaces.
    pub store_method: String,
    pub payment_method: String,
    pub cash_account: String,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            order_sync_mode: OrderSyncMode::AutomaticAfterPayment,
            create_new_products: false,
            customer_id_source: CustomerIdSource::Email,
            stock_item_id_source: StockItemIdSource::Sku,
            sales_order_type: "SO".into(),
            order_number_prefix: None,
            use_store_number_as_order_nbr: false,
            customer_class: None,
            item_class: None,
            posting_class: None,
            reason_code_subaccount: None,
            tax_category_id: None,
            warehouse_id: None,
            order_date_time_zone: "UTC".into(),
            record_payments: true,
            payment_type: PaymentType::Prepayment,
            payment_method: None,
            cash_account: None,
            write_back_shipments: false,
            create_refund_credits: false,
            release_payments: false,
            payment_method_map: vec![],
        }
    }
}

impl SyncSettings {
    /// The payment method and cash account when payments are recorded: on by default, but
    /// off until both are set.
    pub fn payment_account(&self) -> Option<(&str, &str)> {
        match (&self.payment_method, &self.cash_account) {
            (Some(m), Some(a)) if self.record_payments => Some((m, a)),
            _ => None,
        }
    }

    /// The payment method and cash account for an order paid with the store's method
    /// `store_method`: its mapping row if there is one, else the defaults; `None` when
    /// payments are off or the defaults are incomplete and no row matches.
    pub fn payment_account_for(&self, store_method: Option<&str>) -> Option<(&str, &str)> {
        if !self.record_payments {
            return None;
        }
        let wanted = store_method.map(str::trim).filter(|m| !m.is_empty());
        let mapped = wanted.and_then(|w| {
            self.payment_method_map
                .iter()
                .find(|r| r.store_method.trim().eq_ignore_ascii_case(w))
        });
        match mapped {
            Some(r) => Some((r.payment_method.as_str(), r.cash_account.as_str())),
            None => self.payment_account(),
        }
    }

    /// Whether any payment can be recorded now (the defaults, or at least one mapping row).
    pub fn payments_active(&self) -> bool {
        self.record_payments
            && (self.payment_account().is_some() || !self.payment_method_map.is_empty())
    }

    /// The Sales Order's Date for an order placed at `placed_at`: noon of that calendar day in
    /// the order-date time zone, with the zone's offset (noon, so that a server converting to
    /// a zone up to 11 hours away still lands on the same day).
    pub fn order_date(
        &self,
        placed_at: chrono::DateTime<chrono::Utc>,
    ) -> chrono::DateTime<chrono::FixedOffset> {
        let zone: chrono_tz::Tz = self.order_date_time_zone.parse().unwrap_or(chrono_tz::UTC);
        let day = placed_at.with_timezone(&zone).date_naive();
        let noon = day.and_hms_opt(12, 0, 0).expect("noon exists");
        use chrono::{Offset, TimeZone};
        let offset = zone
            .offset_from_local_datetime(&noon)
            .earliest()
            .map_or_else(
                || chrono::FixedOffset::east_opt(0).expect("UTC"),
                |o| o.fix(),
            );
        chrono::DateTime::from_naive_utc_and_offset(noon - offset, offset)
    }
}

/// One field of a partial update: left out, set, or (for optional fields) cleared.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Change<T> {
    #[default]
    Keep,
    Set(T),
    Clear,
}

/// A partial update of the settings, as `saveSettings` receives it.
#[derive(Debug, Clone, Default)]
pub struct SettingsPatch {
    pub order_sync_mode: Change<OrderSyncMode>,
    pub create_new_products: Change<bool>,
    pub customer_id_source: Change<CustomerIdSource>,
    pub stock_item_id_source: Change<StockItemIdSource>,
    pub sales_order_type: Change<String>,
    pub order_number_prefix: Change<String>,
    pub use_store_number_as_order_nbr: Change<bool>,
    pub customer_class: Change<String>,
    pub item_class: Change<String>,
    pub posting_class: Change<String>,
    pub reason_code_subaccount: Change<String>,
    pub tax_category_id: Change<String>,
    pub warehouse_id: Change<String>,
    pub order_date_time_zone: Change<String>,
    pub record_payments: Change<bool>,
    pub payment_type: Change<PaymentType>,
    pub payment_method: Change<String>,
    pub cash_account: Change<String>,
    pub write_back_shipments: Change<bool>,
    pub create_refund_credits: Change<bool>,
    pub release_payments: Change<bool>,
    /// Replaces the whole list (an empty list, or a clear, removes every row).
    pub payment_method_map: Change<Vec<PaymentMethodMapping>>,
}

impl SettingsPatch {
    /// `current` with this patch applied, or the first invalid field (paths under `at`).
    pub fn apply(self, current: &SyncSettings, at: &str) -> Result<SyncSettings, FieldError> {
        let f = |name: &str| format!("{at}.{name}");
        let mut next = current.clone();
        required(
            &mut next.order_sync_mode,
            self.order_sync_mode,
            &f("orderSyncMode"),
        )?;
        required(
            &mut next.create_new_products,
            self.create_new_products,
            &f("createNewProducts"),
        )?;
        required(
            &mut next.customer_id_source,
            self.customer_id_source,
            &f("customerIdSource"),
        )?;
        required(
            &mut next.stock_item_id_source,
            self.stock_item_id_source,
            &f("stockItemIdSource"),
        )?;
        let order_type = self
            .sales_order_type
            .map(|v| order_type(&f("salesOrderType"), &v))
            .transpose()?;
        required(&mut next.sales_order_type, order_type, &f("salesOrderType"))?;
        let prefix = self
            .order_number_prefix
            .map(|v| prefix(&f("orderNumberPrefix"), &v))
            .transpose()?;
        optional(&mut next.order_number_prefix, prefix);
        required(
            &mut next.use_store_number_as_order_nbr,
            self.use_store_number_as_order_nbr,
            &f("useStoreNumberAsOrderNbr"),
        )?;
        let fields = [
            (
                &mut next.customer_class,
                self.customer_class,
                "customerClass",
            ),
            (&mut next.item_class, self.item_class, "itemClass"),
            (&mut next.posting_class, self.posting_class, "postingClass"),
            (
                &mut next.reason_code_subaccount,
                self.reason_code_subaccount,
                "reasonCodeSubaccount",
            ),
            (
                &mut next.tax_category_id,
                self.tax_category_id,
                "taxCategoryId",
            ),
            (&mut next.warehouse_id, self.warehouse_id, "warehouseId"),
            (
                &mut next.payment_method,
                self.payment_method,
                "paymentMethod",
            ),
            (&mut next.cash_account, self.cash_account, "cashAccount"),
        ];
        for (slot, change, name) in fields {
            let change = change.map(|v| text(&f(name), &v, 30)).transpose()?;
            optional(slot, change);
        }
        let zone = self
            .order_date_time_zone
            .map(|v| time_zone(&f("orderDateTimeZone"), &v))
            .transpose()?;
        required(
            &mut next.order_date_time_zone,
            zone,
            &f("orderDateTimeZone"),
        )?;
        required(
            &mut next.record_payments,
            self.record_payments,
            &f("recordPayments"),
        )?;
        required(&mut next.payment_type, self.payment_type, &f("paymentType"))?;
        required(
            &mut next.write_back_shipments,
            self.write_back_shipments,
            &f("writeBackShipments"),
        )?;
        required(
            &mut next.create_refund_credits,
            self.create_refund_credits,
            &f("createRefundCredits"),
        )?;
        required(
            &mut next.release_payments,
            self.release_payments,
            &f("releasePayments"),
        )?;
        match self.payment_method_map {
            Change::Keep => {}
            Change::Clear => next.payment_method_map = vec![],
            Change::Set(rows) => next.payment_method_map = mapping(&f("paymentMethodMap"), rows)?,
        }
        Ok(next)
    }
}

/// The mapping rows, trimmed and checked: every field set (at most 30 characters; a store
/// method name at most 100) and no store method twice.
fn mapping(
    at: &str,
    rows: Vec<PaymentMethodMapping>,
) -> Result<Vec<PaymentMethodMapping>, FieldError> {
    let mut out: Vec<PaymentMethodMapping> = Vec::with_capacity(rows.len());
    for (i, row) in rows.into_iter().enumerate() {
        let f = |name: &str| format!("{at}.{i}.{name}");
        let store_method = text(&f("storeMethod"), &row.store_method, 100)?;
        if out
            .iter()
            .any(|r| r.store_method.eq_ignore_ascii_case(&store_method))
        {
            return Err(FieldError::new(
                f("storeMethod"),
                format!("\"{store_method}\" is mapped twice: keep one row per store method"),
            ));
        }
        out.push(PaymentMethodMapping {
            store_method,
            payment_method: text(&f("paymentMethod"), &row.payment_method, 30)?,
            cash_account: text(&f("cashAccount"), &row.cash_account, 30)?,
        });
    }
    Ok(out)
}

/// An IANA time zone name (`Europe/Berlin`, `UTC`), as the time zone database spells it.
fn time_zone(field: &str, value: &str) -> Result<String, FieldError> {
    let value = value.trim();
    match value.parse::<chrono_tz::Tz>() {
        Ok(zone) => Ok(zone.name().to_string()),
        Err(_) => Err(FieldError::new(
            field,
            format!(
                "\"{value}\" is not a time zone of the IANA database: use a name such as \
                 Europe/Berlin, America/New_York or UTC"
            ),
        )),
    }
}

impl<T> Change<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Change<U> {
        match self {
            Change::Keep => Change::Keep,
            Change::Set(v) => Change::Set(f(v)),
            Change::Clear => Change::Clear,
        }
    }
}

impl<T, E> Change<Result<T, E>> {
    fn transpose(self) -> Result<Change<T>, E> {
        Ok(match self {
            Change::Keep => Change::Keep,
            Change::Set(v) => Change::Set(v?),
            Change::Clear => Change::Clear,
        })
    }
}

fn required<T>(slot: &mut T, change: Change<T>, field: &str) -> Result<(), FieldError> {
    match change {
        Change::Keep => Ok(()),
        Change::Set(v) => {
            *slot = v;
            Ok(())
        }
        Change::Clear => Err(FieldError::new(
            field,
            "cannot be cleared; leave it out to keep it",
        )),
    }
}

fn optional<T>(slot: &mut Option<T>, change: Change<T>) {
    match change {
        Change::Keep => {}
        Change::Set(v) => *slot = Some(v),
        Change::Clear => *slot = None,
    }
}

/// An Acumatica order type: two letters or digits, such as SO.
fn order_type(field: &str, value: &str) -> Result<String, FieldError> {
    let v = value.trim().to_ascii_uppercase();
    if v.len() != 2 || !v.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(FieldError::new(
            field,
            format!("\"{value}\" is not an order type: two letters or digits such as SO"),
        ));
    }
    Ok(v)
}

/// The order-number prefix: up to 10 characters, no spaces.
fn prefix(field: &str, value: &str) -> Result<String, FieldError> {
    if value.is_empty()
        || value.chars().count() > 10
        || value.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(FieldError::new(
            field,
            "must be 1 to 10 characters without spaces, such as XC-",
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_keeps_sets_and_clears() {
        let base = SyncSettings {
            warehouse_id: Some("MAIN".into()),
            ..Default::default()
        };
        let patch = SettingsPatch {
            create_new_products: Change::Set(true),
            order_number_prefix: Change::Set("XC-".into()),
            warehouse_id: Change::Clear,
            ..Default::default()
        };
        let next = patch.apply(&base, "input").unwrap();
        assert!(next.create_new_products);
        assert_eq!(next.order_number_prefix.as_deref(), Some("XC-"));
        assert_eq!(next.warehouse_id, None);
        assert_eq!(next.sales_order_type, "SO");
    }

    #[test]
    fn payments_wait_for_a_method_and_a_cash_account() {
        let mut s = SyncSettings::default();
        assert!(s.record_payments);
        assert_eq!(s.payment_account(), None);
        s = SettingsPatch {
            payment_method: Change::Set("CREDITCARD".into()),
            ..Default::default()
        }
        .apply(&s, "input")
        .unwrap();
        assert_eq!(s.payment_account(), None);
        s.cash_account = Some("10250".into());
        assert_eq!(s.payment_account(), Some(("CREDITCARD", "10250")));
        s.record_payments = false;
        assert_eq!(s.payment_account(), None);
        let long = SettingsPatch {
            cash_account: Change::Set("X".repeat(31)),
            ..Default::default()
        };
        assert_eq!(
            long.apply(&s, "input").unwrap_err().field,
            "input.cashAccount"
        );
    }

    #[test]
    fn the_mapping_picks_a_row_by_store_method_else_the_defaults() {
        let row = |store: &str, method: &str, account: &str| PaymentMethodMapping {
            store_method: store.into(),
            payment_method: method.into(),
            cash_account: account.into(),
        };
        let s = SettingsPatch {
            payment_method_map: Change::Set(vec![row(" PayPal ", "PAYPAL", "10300")]),
            ..Default::default()
        }
        .apply(&SyncSettings::default(), "input")
        .unwrap();
        assert_eq!(s.payment_method_map[0].store_method, "PayPal", "trimmed");
        assert!(s.payments_active(), "one row is enough");
        assert_eq!(
            s.payment_account_for(Some("paypal")),
            Some(("PAYPAL", "10300"))
        );
        assert_eq!(s.payment_account_for(Some("Card")), None, "no defaults yet");
        assert_eq!(s.payment_account_for(None), None);
        let s = SyncSettings {
            payment_method: Some("CREDITCARD".into()),
            cash_account: Some("10250".into()),
            ..s
        };
        assert_eq!(
            s.payment_account_for(Some("Card")),
            Some(("CREDITCARD", "10250"))
        );
        assert_eq!(
            s.payment_account_for(Some("  ")),
            Some(("CREDITCARD", "10250"))
        );
        let off = SyncSettings {
            record_payments: false,
            ..s.clone()
        };
        assert_eq!(off.payment_account_for(Some("PayPal")), None);
        assert!(!off.payments_active());
        let twice = SettingsPatch {
            payment_method_map: Change::Set(vec![
                row("PayPal", "PAYPAL", "10300"),
                row("paypal", "CASH", "10100"),
            ]),
            ..Default::default()
        };
        assert_eq!(
            twice.apply(&s, "input").unwrap_err().field,
            "input.paymentMethodMap.1.storeMethod"
        );
        let empty = SettingsPatch {
            payment_method_map: Change::Set(vec![row("Card", "", "10250")]),
            ..Default::default()
        };
        assert_eq!(
            empty.apply(&s, "input").unwrap_err().field,
            "input.paymentMethodMap.0.paymentMethod"
        );
        let cleared = SettingsPatch {
            payment_method_map: Change::Clear,
            release_payments: Change::Set(true),
            ..Default::default()
        }
        .apply(&s, "input")
        .unwrap();
        assert!(cleared.payment_method_map.is_empty());
        assert!(cleared.release_payments);
        assert!(!SyncSettings::default().release_payments, "off by default");
    }

    #[test]
    fn bad_values_are_named() {
        let base = SyncSettings::default();
        let p = SettingsPatch {
            sales_order_type: Change::Set("SALES".into()),
            ..Default::default()
        };
        assert_eq!(
            p.apply(&base, "input").unwrap_err().field,
            "input.salesOrderType"
        );
        let p = SettingsPatch {
            order_sync_mode: Change::Clear,
            ..Default::default()
        };
        assert_eq!(
            p.apply(&base, "input").unwrap_err().field,
            "input.orderSyncMode"
        );
        let p = SettingsPatch {
            order_number_prefix: Change::Set("X C".into()),
            ..Default::default()
        };
        assert_eq!(
            p.apply(&base, "input").unwrap_err().field,
            "input.orderNumberPrefix"
        );
    }
}

#[cfg(test)]
mod order_date_tests {
    use super::*;

    fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn the_order_date_is_the_day_in_the_erp_time_zone() {
        let mut s = SyncSettings::default();
        let late = at("2026-01-30T23:30:00Z"); // 00:30 on the 31st in Berlin
        assert_eq!(s.order_date(late).to_rfc3339(), "2026-01-30T12:00:00+00:00");
        s.order_date_time_zone = "Europe/Berlin".into();
        assert_eq!(s.order_date(late).to_rfc3339(), "2026-01-31T12:00:00+01:00");
        s.order_date_time_zone = "America/Los_Angeles".into();
        assert_eq!(
            s.order_date(at("2026-07-01T03:00:00Z")).to_rfc3339(),
            "2026-06-30T12:00:00-07:00"
        );
    }

    #[test]
    fn time_zones_are_checked() {
        let patch = |zone: &str| SettingsPatch {
            order_date_time_zone: Change::Set(zone.into()),
            ..Default::default()
        };
        let s = SyncSettings::default();
        let e = patch("Mars/Olympus").apply(&s, "input").unwrap_err();
        assert_eq!(e.field, "input.orderDateTimeZone");
        let cleared = SettingsPatch {
            order_date_time_zone: Change::Clear,
            ..Default::default()
        };
        assert!(cleared.apply(&s, "input").is_err());
        assert_eq!(
            patch("Asia/Tokyo")
                .apply(&s, "input")
                .unwrap()
                .order_date_time_zone,
            "Asia/Tokyo"
        );
    }
}

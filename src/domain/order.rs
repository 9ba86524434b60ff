//! Store orders: what `recordOrder` takes ([`OrderDraft`]), the validated form ([`NewOrder`])
//! and what is stored ([`Order`]) with its payment history and sync state.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::aftercare::{Attention, Cancellation, Refund};
use super::raw::{RawDateTime, RawDecimal};
use super::{FieldError, codes, money};

/// Payment status of a store order (X-Cart's codes Q, A, PP, P, D, C, R).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    Queued,
    Authorized,
    PartiallyPaid,
    Paid,
    Declined,
    Canceled,
    Refunded,
}

/// Where an order stands in its way to Acumatica (see the contract's OrderSyncStatus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SyncStatus {
    #[default]
    NotSynced,
    Queued,
    Syncing,
    Synced,
    Failed,
    /// Synced, then something happened that the bridge leaves to a person (a refund, a
    /// cancellation after shipping): see `OrderSync::attention`.
    NeedsAttention,
}

impl SyncStatus {
    pub const ALL: [SyncStatus; 6] = [
        SyncStatus::NotSynced,
        SyncStatus::Queued,
        SyncStatus::Syncing,
        SyncStatus::Synced,
        SyncStatus::Failed,
        SyncStatus::NeedsAttention,
    ];

    /// The contract's name (`NOT_SYNCED`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::NotSynced => "NOT_SYNCED",
            SyncStatus::Queued => "QUEUED",
            SyncStatus::Syncing => "SYNCING",
            SyncStatus::Synced => "SYNCED",
            SyncStatus::Failed => "FAILED",
            SyncStatus::NeedsAttention => "NEEDS_ATTENTION",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Address {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub street: Option<String>,
    pub street2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItem {
    pub sku: String,
    pub name: String,
    /// Unit price.
    pub price: Decimal,
    pub quantity: i32,
    pub warehouse_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentStatusChange {
    pub status: PaymentStatus,
    pub at: DateTime<Utc>,
}

/// The sync state of one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct OrderSync {
    pub status: SyncStatus,
    pub sales_order_type: Option<String>,
    pub sales_order_nbr: Option<String>,
    pub customer_id: Option<String>,
    pub last_error: Option<String>,
    pub warnings: Vec<String>,
    pub synced_at: Option<DateTime<Utc>>,
    /// Ids of the jobs that worked on this order, oldest first.
    pub job_ids: Vec<String>,
    /// Set, durably, before the first request that may create the Sales Order: from then on
    /// every attempt looks the order up in Acumatica before creating it.
    #[serde(default)]
    pub create_sent: bool,
    /// What the last create sent, recorded durably with `create_sent`: every later look-up
    /// and create uses these values, whatever the settings say by then.
    #[serde(default)]
    pub create_intent: Option<CreateIntent>,
    /// When a write to Acumatica last ended without a known outcome (a timeout after
    /// sending): the next create waits for the ambiguous re-check delay and looks up again.
    #[serde(default)]
    pub ambiguous_at: Option<DateTime<Utc>>,
    /// Fingerprint of the order data the last successful sync sent.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// The class of its sync job's last error (mirrored from the job).
    #[serde(default)]
    pub error_class: Option<super::ErrorClass>,
    /// The payments Acumatica shows on the Sales Order, as last read back.
    #[serde(default)]
    pub payments: Vec<RecordedPayment>,
    /// The Sales Order's unpaid balance, as last read back.
    #[serde(default)]
    pub unpaid_balance: Option<Decimal>,
    /// Why the order needs (or needed) a person, oldest first; the last one unresolved is
    /// why it is NEEDS_ATTENTION.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attention: Vec<Attention>,
    /// Refunds the store reported after the sync, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refunds: Vec<Refund>,
    /// The Sales Order's cancellation, once the store canceled the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<Cancellation>,
    /// Set, durably, before a RECORD_PAYMENT job's Payment PUT, cleared once its outcome is
    /// known: a later attempt waits for the re-check delay from then before it looks up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_sent_at: Option<DateTime<Utc>>,
}

impl OrderSync {
    /// The attention not yet resolved, if any.
    pub fn open_attention(&self) -> Option<&Attention> {
        self.attention
            .iter()
            .rev()
            .find(|a| a.resolved_at.is_none())
    }

    /// Records why the order needs a person and makes it NEEDS_ATTENTION.
    pub fn raise(&mut self, reason: String, at: DateTime<Utc>) {
        self.attention.push(Attention {
            reason,
            raised_at: at,
            resolved_at: None,
            resolution: None,
        });
        self.status = SyncStatus::NeedsAttention;
    }

    /// The refunded total already recorded.
    pub fn refunded_total(&self) -> Decimal {
        self.refunds
            .last()
            .map_or(Decimal::ZERO, |r| r.refunded_total)
    }
}

/// A payment recorded in Acumatica for the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedPayment {
    /// Prepayment or Payment.
    pub doc_type: String,
    pub reference_nbr: String,
    pub amount: Decimal,
    pub applied_to_order: Option<Decimal>,
    pub status: Option<String>,
    pub payment_method: Option<String>,
    pub payment_ref: Option<String>,
}

/// The identity of a Sales Order create, as sent (see `OrderSync::create_intent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateIntent {
    pub order_type: String,
    /// CustomerOrder and ExternalRef.
    pub customer_order: String,
    /// Sent as OrderNbr (order types with manual numbering).
    pub order_nbr: Option<String>,
    /// When the create was sent: without a recorded outcome, its result is unknown from then.
    pub sent_at: DateTime<Utc>,
}

/// The warning an order gets when it changes in the store after it was synced.
pub const CHANGED_AFTER_SYNC: &str =
    "changed after sync: the store order differs from what was sent to Acumatica";

/// A validated order as recorded by the store: everything but history and sync state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    pub number: String,
    pub profile_id: Option<String>,
    pub email: String,
    pub phone: Option<String>,
    pub placed_at: DateTime<Utc>,
    pub currency: String,
    pub payment_status: PaymentStatus,
    pub billing_address: Address,
    pub shipping_address: Option<Address>,
    pub items: Vec<OrderItem>,
    pub shipping_cost: Option<Decimal>,
    pub discount_total: Option<Decimal>,
    pub tax_total: Option<Decimal>,
    pub total: Decimal,
    /// What the store has refunded of the order so far (a partial refund); a REFUNDED order
    /// without it counts as refunded in full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_total: Option<Decimal>,
    /// The store's payment method name (X-Cart's `payment_method_name`), which the payment
    /// method mapping reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
}

impl NewOrder {
    /// What the store has refunded of the order so far.
    pub fn refunded(&self) -> Decimal {
        match (self.payment_status, self.refunded_total) {
            (_, Some(r)) => r,
            (PaymentStatus::Refunded, None) => self.total,
            _ => Decimal::ZERO,
        }
    }

    /// Canceled or declined in the store: its Sales Order should not go on.
    pub fn is_canceled(&self) -> bool {
        matches!(
            self.payment_status,
            PaymentStatus::Canceled | PaymentStatus::Declined
        )
    }

    /// A fingerprint of everything a sync sends: when it changes after a sync, the order
    /// "changed after sync".
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let relevant = serde_json::json!({
            "email": self.email, "phone": self.phone, "profile": self.profile_id,
            "currency": self.currency, "billing": self.billing_address, "shipping": self.shipping_address,
            "items": self.items, "shippingCost": self.shipping_cost, "discount": self.discount_total,
            "placedAt": self.placed_at,
        });
        hex::encode(Sha256::digest(relevant.to_string().as_bytes()))
    }
}

/// A stored order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    #[serde(flatten)]
    pub data: NewOrder,
    pub payment_status_history: Vec<PaymentStatusChange>,
    pub sync: OrderSync,
    pub recorded_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Acumatica shipments of its Sales Order, as written back to the store.
    #[serde(default)]
    pub shipments: Vec<OrderShipment>,
}

/// A confirmed Acumatica shipment of an order's Sales Order, and its write-back to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderShipment {
    /// Acumatica's ShipmentNbr.
    pub number: String,
    /// Acumatica's status of the shipment (Confirmed, Completed…).
    pub status: String,
    pub tracking_numbers: Vec<String>,
    /// The shipment's date in Acumatica.
    pub shipped_at: Option<DateTime<Utc>>,
    /// How much of the order it ships (its `Orders` row), when Acumatica said.
    pub shipped_qty: Option<Decimal>,
    /// The shipping status written to the store (`S` shipped, `P` when the shipments so far
    /// cover part of the order).
    pub store_status: String,
    /// When the store took the status and every tracking number.
    pub written_back_at: DateTime<Utc>,
    /// The WRITE_BACK job that wrote it.
    pub job_id: String,
}

impl Order {
    /// A first recording of `data` at `now`.
    pub fn first(data: NewOrder, now: DateTime<Utc>) -> Order {
        let history = vec![PaymentStatusChange {
            status: data.payment_status,
            at: now,
        }];
        Order {
            data,
            payment_status_history: history,
            sync: OrderSync::default(),
            recorded_at: now,
            updated_at: now,
            shipments: vec![],
        }
    }

    /// This order updated with newly recorded `data`: the payment history grows when the
    /// payment status changed; the sync state is kept.
    pub fn updated(&self, data: NewOrder, now: DateTime<Utc>) -> Order {
        let mut next = self.clone();
        if data.payment_status != self.data.payment_status {
            next.payment_status_history.push(PaymentStatusChange {
                status: data.payment_status,
                at: now,
            });
        }
        if data != self.data {
            next.updated_at = now;
        }
        let drifted = next
            .sync
            .fingerprint
            .as_ref()
            .is_some_and(|f| *f != data.fingerprint());
        if drifted && !next.sync.warnings.iter().any(|w| w == CHANGED_AFTER_SYNC) {
            next.sync.warnings.push(CHANGED_AFTER_SYNC.to_owned());
        }
        next.data = data;
        next
    }
}

/// An address as received.
#[derive(Debug, Clone, Default)]
pub struct AddressDraft {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub street: Option<String>,
    pub street2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: String,
    pub phone: Option<String>,
}

/// An order line as received.
#[derive(Debug, Clone)]
pub struct ItemDraft {
    pub sku: String,
    pub name: String,
    pub price: RawDecimal,
    pub quantity: i32,
    pub warehouse_id: Option<String>,
}

/// An order as received by `recordOrder`, before validation.
#[derive(Debug, Clone)]
pub struct OrderDraft {
    pub number: String,
    pub profile_id: Option<String>,
    pub email: String,
    pub phone: Option<String>,
    pub placed_at: RawDateTime,
    pub currency: String,
    pub payment_status: PaymentStatus,
    pub billing_address: AddressDraft,
    pub shipping_address: Option<AddressDraft>,
    pub items: Vec<ItemDraft>,
    pub shipping_cost: Option<RawDecimal>,
    pub discount_total: Option<RawDecimal>,
    pub tax_total: Option<RawDecimal>,
    pub total: RawDecimal,
    /// What the store has refunded so far (a partial refund).
    pub refunded_total: Option<RawDecimal>,
    pub payment_method: Option<String>,
}

/// Longest order number, SKU or identifier accepted (Acumatica's key fields are short).
const MAX_KEY_LEN: usize = 30;
const MAX_TEXT_LEN: usize = 255;

impl OrderDraft {
    /// Validates the draft. `at` is the path of the input, e.g. `input`.
    pub fn validate(self, at: &str) -> Result<NewOrder, FieldError> {
        let f = |name: &str| format!("{at}.{name}");
        let number = key(&f("number"), &self.number)?;
        let email = email(&f("email"), &self.email)?;
        let placed_at = self.placed_at.get(&f("placedAt"))?;
        let currency = self.currency.trim().to_ascii_uppercase();
        if !codes::is_currency(&currency) {
            return Err(FieldError::new(
                f("currency"),
                format!(
                    "\"{}\" is not an ISO 4217 currency code such as USD",
                    self.currency
                ),
            ));
        }
        if self.items.is_empty() {
            return Err(FieldError::new(
                f("items"),
                "an order needs at least one item",
            ));
        }
        let items = self
            .items
            .into_iter()
            .enumerate()
            .map(|(i, item)| item.validate(&format!("{at}.items.{i}")))
            .collect::<Result<Vec<_>, _>>()?;
        let amount = |name: &str, raw: Option<RawDecimal>| -> Result<Option<Decimal>, FieldError> {
            raw.map(|r| {
                r.get(&f(name))
                    .and_then(|d| money::check_amount(&f(name), d))
            })
            .transpose()
        };
        let shipping_cost = amount("shippingCost", self.shipping_cost)?;
        let discount_total = amount("discountTotal", self.discount_total)?;
        let tax_total = amount("taxTotal", self.tax_total)?;
        let total = money::check_amount(&f("total"), self.total.get(&f("total"))?)?;
        let refunded_total = amount("refundedTotal", self.refunded_total)?;
        if let Some(r) = refunded_total
            && r > total
        {
            return Err(FieldError::new(
                f("refundedTotal"),
                format!("{r} is more than the order's total {total}"),
            ));
        }
        // Each line is at most MAX_AMOUNT (checked per item), so neither this sum nor the
        // total below can overflow; checked all the same.
        let too_big = |field: String| {
            FieldError::new(
                field,
                format!(
                    "the order's amounts add up to more than {}",
                    money::MAX_AMOUNT
                ),
            )
        };
        let lines = money::sum(
            items
                .iter()
                .filter_map(|i| money::line_amount(i.price, i.quantity)),
        )
        .ok_or_else(|| too_big(f("items")))?;
        money::check_bound(&f("items"), lines).map_err(|_| too_big(f("items")))?;
        let expected = money::sum([
            lines,
            shipping_cost.unwrap_or_default(),
            tax_total.unwrap_or_default(),
        ])
        .and_then(|plus| plus.checked_sub(discount_total.unwrap_or_default()))
        .ok_or_else(|| too_big(f("total")))?;
        if (expected - total).abs() > money::cent() {
            return Err(FieldError::new(
                f("total"),
                format!(
                    "{total} does not match lines {lines} + shipping {} + tax {} - discount {} = {expected} (within one cent)",
                    shipping_cost.unwrap_or_default(),
                    tax_total.unwrap_or_default(),
                    discount_total.unwrap_or_default(),
                ),
            ));
        }
        Ok(NewOrder {
            number,
            profile_id: optional(&f("profileId"), self.profile_id, MAX_KEY_LEN)?,
            email,
            phone: optional(&f("phone"), self.phone, 50)?,
            placed_at,
            currency,
            payment_status: self.payment_status,
            billing_address: self.billing_address.validate(&f("billingAddress"))?,
            shipping_address: self
                .shipping_address
                .map(|a| a.validate(&f("shippingAddress")))
                .transpose()?,
            items,
            shipping_cost,
            discount_total,
            tax_total,
            total,
            refunded_total,
            payment_method: optional(&f("paymentMethod"), self.payment_method, 100)?,
        })
    }
}

impl ItemDraft {
    fn validate(self, at: &str) -> Result<OrderItem, FieldError> {
        let f = |name: &str| format!("{at}.{name}");
        let sku = key(&f("sku"), &self.sku)?;
        let name = text(&f("name"), &self.name, MAX_TEXT_LEN)?;
        let price = money::check_amount(&f("price"), self.price.get(&f("price"))?)?;
        let quantity = money::check_quantity(&f("quantity"), self.quantity)?;
        let line = money::line_amount(price, quantity).filter(|l| *l <= money::max_amount());
        if line.is_none() {
            return Err(FieldError::new(
                f("quantity"),
                format!(
                    "price {price} × quantity {quantity} is more than {}, the largest amount of a line",
                    money::MAX_AMOUNT
                ),
            ));
        }
        Ok(OrderItem {
            sku,
            name,
            price,
            quantity,
            warehouse_id: optional(&f("warehouseId"), self.warehouse_id, MAX_KEY_LEN)?,
        })
    }
}

impl AddressDraft {
    fn validate(self, at: &str) -> Result<Address, FieldError> {
        let f = |name: &str| format!("{at}.{name}");
        let country = self.country.trim().to_ascii_uppercase();
        if !codes::is_country(&country) {
            return Err(FieldError::new(
                f("country"),
                format!(
                    "\"{}\" is not an ISO 3166-1 alpha-2 country code such as US",
                    self.country
                ),
            ));
        }
        Ok(Address {
            first_name: optional(&f("firstName"), self.first_name, MAX_TEXT_LEN)?,
            last_name: optional(&f("lastName"), self.last_name, MAX_TEXT_LEN)?,
            company: optional(&f("company"), self.company, MAX_TEXT_LEN)?,
            street: optional(&f("street"), self.street, MAX_TEXT_LEN)?,
            street2: optional(&f("street2"), self.street2, MAX_TEXT_LEN)?,
            city: optional(&f("city"), self.city, MAX_TEXT_LEN)?,
            state: optional(&f("state"), self.state, MAX_TEXT_LEN)?,
            postal_code: optional(&f("postalCode"), self.postal_code, 20)?,
            country,
            phone: optional(&f("phone"), self.phone, 50)?,
        })
    }
}

/// A non-empty identifier (order number, SKU): trimmed, short, without control characters,
/// and without invisible characters that would make two keys look alike or reorder what is
/// shown around them (bidirectional controls, zero-width characters).
pub fn key(field: &str, value: &str) -> Result<String, FieldError> {
    let v = text(field, value, MAX_KEY_LEN)?;
    if let Some(c) = v.chars().find(|c| is_invisible(*c)) {
        return Err(FieldError::new(
            field,
            format!(
                "must not contain invisible or bidirectional control characters (found U+{:04X})",
                c as u32
            ),
        ));
    }
    Ok(v)
}

/// Bidirectional controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) and
/// zero-width characters (U+200B–U+200D, U+2060, U+FEFF).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Non-empty text, trimmed, at most `max` characters, without control characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("is longer than {max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(v.to_owned())
}

/// Optional text: absent or blank is `None`, otherwise as [`text`].
pub fn optional(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    match value {
        Some(v) if !v.trim().is_empty() => text(field, &v, max).map(Some),
        _ => Ok(None),
    }
}

/// A plausible email address: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn email(field: &str, value: &str) -> Result<String, FieldError> {
    let v = value.trim();
    let bad = || FieldError::new(field, format!("\"{value}\" is not a valid email address"));
    if v.len() > 254 || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = v.split_once('@').ok_or_else(bad)?;
    let labels_ok = domain.split('.').all(|l| {
        !l.is_empty() && !l.starts_with('-') && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    });
    if local.is_empty() || !domain.contains('.') || !labels_ok || domain.ends_with('.') {
        return Err(bad());
    }
    Ok(v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn draft() -> OrderDraft {
        OrderDraft {
            number: "1001".into(),
            profile_id: Some("42".into()),
            email: "ann@example.com".into(),
            phone: None,
            placed_at: RawDateTime::parse("2026-01-31T12:00:00+01:00"),
            currency: "usd".into(),
            payment_status: PaymentStatus::Paid,
            billing_address: AddressDraft {
                country: "us".into(),
                ..Default::default()
            },
            shipping_address: None,
            items: vec![ItemDraft {
                sku: " AB-1 ".into(),
                name: "Widget".into(),
                price: RawDecimal::parse("10.25"),
                quantity: 2,
                warehouse_id: None,
            }],
            shipping_cost: Some(RawDecimal::parse("5")),
            discount_total: Some(RawDecimal::parse("1.50")),
            tax_total: Some(RawDecimal::parse("2.00")),
            total: RawDecimal::parse("26.00"),
            refunded_total: None,
            payment_method: None,
        }
    }

    #[test]
    fn a_good_order_validates_and_normalises() {
        let o = draft().validate("input").unwrap();
        assert_eq!(o.currency, "USD");
        assert_eq!(o.billing_address.country, "US");
        assert_eq!(o.items[0].sku, "AB-1");
        assert_eq!(o.total.to_string(), "26.00");
    }

    #[test]
    fn total_within_one_cent() {
        let mut d = draft();
        d.total = RawDecimal::parse("26.01");
        assert!(d.validate("input").is_ok());
        let mut d = draft();
        d.total = RawDecimal::parse("26.02");
        assert_eq!(d.validate("input").unwrap_err().field, "input.total");
    }

    #[test]
    fn each_bad_field_is_named() {
        type Change = Box<dyn Fn(&mut OrderDraft)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|d| d.number = " ".into()), "input.number"),
            (Box::new(|d| d.email = "nope".into()), "input.email"),
            (Box::new(|d| d.email = "a@b".into()), "input.email"),
            (Box::new(|d| d.currency = "XXX1".into()), "input.currency"),
            (
                Box::new(|d| d.placed_at = RawDateTime::parse("yesterday")),
                "input.placedAt",
            ),
            (
                Box::new(|d| d.billing_address.country = "UK".into()),
                "input.billingAddress.country",
            ),
            (
                Box::new(|d| d.items[0].quantity = 0),
                "input.items.0.quantity",
            ),
            (
                Box::new(|d| d.items[0].sku = "".into()),
                "input.items.0.sku",
            ),
            (
                Box::new(|d| d.items[0].price = RawDecimal::parse("-1")),
                "input.items.0.price",
            ),
            (
                Box::new(|d| d.items[0].price = RawDecimal::parse("1.00001")),
                "input.items.0.price",
            ),
            (Box::new(|d| d.items.clear()), "input.items"),
            (
                Box::new(|d| d.items[0].price = RawDecimal::parse("79228162514264337593543950335")),
                "input.items.0.price",
            ),
            (
                Box::new(|d| d.items[0].quantity = money::MAX_QUANTITY + 1),
                "input.items.0.quantity",
            ),
            (
                // 10^12 × 2: each value in bounds, the line not.
                Box::new(|d| d.items[0].price = RawDecimal::parse("1000000000000")),
                "input.items.0.quantity",
            ),
            (
                Box::new(|d| d.total = RawDecimal::parse("1000000000000.01")),
                "input.total",
            ),
            (
                Box::new(|d| d.number = "10\u{202E}01".into()),
                "input.number",
            ),
            (
                Box::new(|d| d.items[0].sku = "AB\u{200B}-1".into()),
                "input.items.0.sku",
            ),
            (
                Box::new(|d| d.number = "\u{FEFF}1001".into()),
                "input.number",
            ),
            (
                Box::new(|d| d.shipping_cost = Some(RawDecimal::parse("x"))),
                "input.shippingCost",
            ),
        ];
        for (change, field) in cases {
            let mut d = draft();
            change(&mut d);
            assert_eq!(d.validate("input").unwrap_err().field, field);
        }
    }

    #[test]
    fn the_lines_sum_is_bounded() {
        let mut d = draft();
        let line = |sku: &str| ItemDraft {
            sku: sku.into(),
            name: "Big".into(),
            price: RawDecimal::parse("600000000000"),
            quantity: 1,
            warehouse_id: None,
        };
        d.items = vec![line("A"), line("B")];
        let err = d.validate("input").unwrap_err();
        assert_eq!(err.field, "input.items");
        assert!(err.message.contains("1000000000000"), "{err}");
    }

    #[test]
    fn every_invisible_character_is_refused_in_keys() {
        for c in [
            '\u{061C}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{202A}',
            '\u{202E}', '\u{2060}', '\u{2066}', '\u{2069}', '\u{FEFF}',
        ] {
            assert!(key("k", &format!("A{c}B")).is_err(), "U+{:04X}", c as u32);
        }
        assert_eq!(key("k", "Ünïcödé-1").unwrap(), "Ünïcödé-1");
    }

    #[test]
    fn payment_history_grows_only_on_change() {
        let t0 = Utc::now();
        let o = Order::first(draft().validate("input").unwrap(), t0);
        let same = o.updated(draft().validate("input").unwrap(), t0);
        assert_eq!(same.payment_status_history.len(), 1);
        let mut d = draft().validate("input").unwrap();
        d.payment_status = PaymentStatus::Refunded;
        let changed = o.updated(d, t0);
        assert_eq!(changed.payment_status_history.len(), 2);
    }
}

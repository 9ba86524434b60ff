//! What X-Cart 5.5+'s API Platform API sends for orders (`OrderOutput`, snake_case), as far as
//! the bridge reads it (the team's X-Cart notes, §2.2). Unknown fields are ignored, so that
//! modules adding keys (`used_coupons`, …) or the Hydra `@id`/`@type` keys do not matter.
//!
//! Money is read exactly: X-Cart sends JSON numbers (`56.08`), which are taken from the raw
//! JSON text into a `Decimal`, never through a float.

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

/// A decimal read from its JSON text: a number (`19.99`) or a string (`"19.99"`).
fn exact<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    let raw: Box<RawValue> = Deserialize::deserialize(d)?;
    parse_decimal(raw.get()).map_err(serde::de::Error::custom)
}

fn exact_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let raw: Option<Box<RawValue>> = Deserialize::deserialize(d)?;
    match raw {
        None => Ok(None),
        Some(r) if r.get() == "null" => Ok(None),
        Some(r) => parse_decimal(r.get())
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// The decimal of a JSON number or numeric string, exactly as written (exponents allowed).
pub fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let t = text.trim().trim_matches('"');
    let parsed = if t.contains(['e', 'E']) {
        Decimal::from_scientific(t)
    } else {
        t.parse::<Decimal>()
    };
    parsed.map_err(|_| format!("{text} is not a decimal number"))
}

/// A payment or shipping status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusOutput {
    #[serde(default)]
    pub id: Option<i64>,
    pub code: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub customer_name: Option<String>,
}

/// A billing or shipping address of the order's profile (`ProfileAddressOutput`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AddressOutput {
    pub id: Option<i64>,
    pub title: Option<String>,
    pub firstname: Option<String>,
    pub lastname: Option<String>,
    pub phone: Option<String>,
    pub street: Option<String>,
    pub zipcode: Option<String>,
    pub city: Option<String>,
    pub country_code: Option<String>,
    /// Numeric state id.
    pub state: Option<serde_json::Value>,
    pub state_name: Option<String>,
    pub custom_fields: Vec<CustomField>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomField {
    pub name: Option<String>,
    pub value: Option<serde_json::Value>,
}

/// An order- or item-level surcharge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurchargeOutput {
    #[serde(default)]
    pub id: Option<i64>,
    /// `shipping`, `tax`, `discount` or `handling` (modules may add others).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Negative for discounts.
    #[serde(deserialize_with = "exact")]
    pub value: Decimal,
    /// True when the amount is already inside the prices (VAT-style).
    #[serde(default)]
    pub include: bool,
    #[serde(default)]
    pub available: Option<bool>,
}

/// An order line (`OrderItemOutput`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItemOutput {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub product_id: Option<i64>,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Unit price.
    #[serde(deserialize_with = "exact")]
    pub price: Decimal,
    /// Quantity.
    pub amount: i64,
    #[serde(default)]
    pub update_date: Option<String>,
    #[serde(default)]
    pub surcharges: Vec<SurchargeOutput>,
}

/// An order (`OrderOutput`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderOutput {
    pub id: i64,
    /// Null for a cart that is not an order yet.
    #[serde(default)]
    pub order_number: Option<String>,
    #[serde(deserialize_with = "exact")]
    pub total: Decimal,
    #[serde(default, deserialize_with = "exact_opt")]
    pub sub_total: Option<Decimal>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// The customer account's profile id (null for guests and deleted accounts).
    #[serde(default)]
    pub customer_id: Option<i64>,
    /// The order's own copy of the profile.
    #[serde(default)]
    pub order_profile_id: Option<i64>,
    #[serde(default)]
    pub billing_address: Option<AddressOutput>,
    #[serde(default)]
    pub shipping_address: Option<AddressOutput>,
    /// ISO-8601 in PHP's `DateTime::ISO8601` form (`2024-03-05T14:22:10+0000`).
    pub create_date: String,
    /// The `lastRenewDate`, same form.
    #[serde(default)]
    pub update_date: Option<String>,
    pub payment_status: Option<StatusOutput>,
    /// The name of the payment method the customer paid with (e.g. "PayPal").
    #[serde(default)]
    pub payment_method_name: Option<String>,
    #[serde(default)]
    pub shipping_status: Option<StatusOutput>,
    #[serde(default)]
    pub items: Vec<OrderItemOutput>,
    #[serde(default)]
    pub surcharges: Vec<SurchargeOutput>,
    /// Why the order could not be read (an amount beyond any decimal, a missing field): only
    /// its id, number and dates are then known, and the import rejects it instead of
    /// stopping at its page.
    #[serde(skip)]
    pub unreadable: Option<String>,
}

/// What is read of an order that cannot be read whole.
#[derive(Deserialize)]
struct OrderStub {
    id: i64,
    #[serde(default)]
    order_number: Option<String>,
    create_date: String,
    #[serde(default)]
    update_date: Option<String>,
}

impl OrderOutput {
    /// The order in `text`; one that cannot be read whole but has an id and a date comes back
    /// empty, with the reason in [`OrderOutput::unreadable`].
    fn parse(text: &str) -> Result<OrderOutput, String> {
        let error = match serde_json::from_str::<OrderOutput>(text) {
            Ok(o) => return Ok(o),
            Err(e) => format!("an order could not be read: {e}"),
        };
        let stub: OrderStub = serde_json::from_str(text).map_err(|_| error.clone())?;
        Ok(OrderOutput {
            id: stub.id,
            order_number: stub.order_number,
            total: Decimal::ZERO,
            sub_total: None,
            currency: None,
            email: None,
            customer_id: None,
            order_profile_id: None,
            billing_address: None,
            shipping_address: None,
            create_date: stub.create_date,
            update_date: stub.update_date,
            payment_status: None,
            payment_method_name: None,
            shipping_status: None,
            items: vec![],
            surcharges: vec![],
            unreadable: Some(error),
        })
    }
}

/// A page of `GET /api/orders`: a plain JSON array (`application/json`) or a Hydra
/// collection (`application/ld+json`), whose `hydra:totalItems` counts every match.
#[derive(Debug, Clone)]
pub struct OrderPage {
    pub orders: Vec<OrderOutput>,
    pub total_items: Option<u64>,
}

#[derive(Deserialize)]
struct Hydra {
    #[serde(rename = "hydra:member")]
    member: Vec<Box<RawValue>>,
    #[serde(rename = "hydra:totalItems", default)]
    total_items: Option<u64>,
}

impl OrderPage {
    /// Parses a page from the response body. Each order is parsed from its own raw text, so
    /// that money is read exactly whichever shape the page has.
    pub fn parse(body: &str) -> Result<OrderPage, String> {
        let bad = |e: serde_json::Error| format!("not a list of X-Cart orders: {e}");
        let (raws, total_items) = if body.trim_start().starts_with('[') {
            (
                serde_json::from_str::<Vec<Box<RawValue>>>(body).map_err(bad)?,
                None,
            )
        } else {
            let h: Hydra = serde_json::from_str(body).map_err(bad)?;
            (h.member, h.total_items)
        };
        let orders = raws
            .iter()
            .map(|r| OrderOutput::parse(r.get()))
            .collect::<Result<_, _>>()?;
        Ok(OrderPage {
            orders,
            total_items,
        })
    }
}

/// Parses X-Cart's dates: PHP's ISO8601 form (`+0000`), RFC 3339 (`+00:00`, `Z`) or a unix
/// timestamp.
pub fn parse_date(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    use chrono::{DateTime, Utc};
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%z") {
        return Ok(d.with_timezone(&Utc));
    }
    if let Ok(secs) = t.parse::<i64>()
        && let Some(d) = DateTime::from_timestamp(secs, 0)
    {
        return Ok(d);
    }
    Err(format!("\"{text}\" is not a date X-Cart sends"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_read_exactly_from_numbers_and_strings() {
        let body = r#"[{"id":5,"order_number":"5","total":56.08,"sub_total":"49.98",
            "create_date":"2024-03-05T14:22:10+0000","payment_status":{"code":"P"},
            "items":[{"sku":"A","price":0.1,"amount":3}],
            "surcharges":[{"type":"discount","value":-5.0,"include":false}]}]"#;
        let page = OrderPage::parse(body).unwrap();
        let o = &page.orders[0];
        assert_eq!(o.total.to_string(), "56.08");
        assert_eq!(o.sub_total.unwrap().to_string(), "49.98");
        assert_eq!(o.items[0].price.to_string(), "0.1");
        assert_eq!(o.surcharges[0].value.to_string(), "-5.0");
        assert_eq!(page.total_items, None);
    }

    #[test]
    fn hydra_collections_are_read_too() {
        let body = r#"{"@context":"/api/contexts/Order","@id":"/api/orders","@type":"hydra:Collection",
            "hydra:member":[{"@id":"/api/orders/7","@type":"Order","id":7,"order_number":"7","total":1e1,
            "create_date":"2024-03-05T14:22:10+00:00","payment_status":null}],"hydra:totalItems":31}"#;
        let page = OrderPage::parse(body).unwrap();
        assert_eq!(page.total_items, Some(31));
        assert_eq!(page.orders[0].total, Decimal::from(10));
        assert!(OrderPage::parse("<html>").is_err());
        assert!(OrderPage::parse(r#"{"message":"x"}"#).is_err());
    }

    #[test]
    fn an_order_with_an_amount_beyond_any_decimal_is_kept_as_unreadable() {
        let body = r#"[{"id":8,"order_number":"8","total":1e40,"create_date":"1709648530",
            "payment_status":null},{"id":9,"order_number":"9","total":1,"create_date":"1709648531",
            "payment_status":null}]"#;
        let page = OrderPage::parse(body).unwrap();
        assert_eq!(page.orders.len(), 2);
        let why = page.orders[0].unreadable.as_deref().unwrap();
        assert!(why.contains("1e40"), "{why}");
        assert_eq!(page.orders[0].order_number.as_deref(), Some("8"));
        assert_eq!(page.orders[1].unreadable, None);
        assert!(
            OrderPage::parse(r#"[{"total":1}]"#).is_err(),
            "no id, no date: the page fails"
        );
    }

    #[test]
    fn dates_in_each_form() {
        let want = "2024-03-05T14:22:10+00:00";
        for t in [
            "2024-03-05T14:22:10+0000",
            "2024-03-05T15:22:10+0100",
            "2024-03-05T14:22:10Z",
            "1709648530",
        ] {
            assert_eq!(parse_date(t).unwrap().to_rfc3339(), want, "{t}");
        }
        assert!(parse_date("yesterday").is_err());
    }
}

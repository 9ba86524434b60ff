//! An X-Cart order as a bridge order: the X-Cart `OrderOutput` becomes an [`OrderDraft`],
//! validated like any `recordOrder` input into a [`NewOrder`].
//!
//! | bridge | X-Cart |
//! |---|---|
//! | number | `order_number` |
//! | profileId | `customer_id` (the customer account's profile id; none for guests) |
//! | email, currency | `email`, `currency` |
//! | phone | the billing address's phone, else the shipping address's |
//! | placedAt | `create_date` |
//! | paymentStatus | `payment_status.code`: Q, A, PP, P, D, C, R; another (custom) code counts as awaiting payment |
//! | addresses | `billing_address` (the shipping one when there is none), `shipping_address`: names, street, city, `state_name`, zip code, country code, phone |
//! | items | `sku`, `name` (the SKU when empty), `price` (unit price), `amount` (quantity) |
//! | shippingCost | the `shipping` surcharges, plus every surcharge of another type (handling, fees) so that totals still match |
//! | taxTotal | the `tax` surcharges not included in prices (`include: false`) |
//! | discountTotal | the `discount` surcharges, negated (X-Cart's discounts are negative) |
//! | total | `total` |
//! | paymentMethod | `payment_method_name` (read by the payment method mapping) |
//!
//! Surcharges with `include: true` are already inside the prices and stay out of every sum.
//! Only the order-level surcharges count: X-Cart sums item-level ones into them.

use rust_decimal::Decimal;

use super::model::{AddressOutput, OrderOutput};
use crate::domain::order::{AddressDraft, ItemDraft, NewOrder, OrderDraft, PaymentStatus};
use crate::domain::raw::{RawDateTime, RawDecimal};

/// The bridge's payment status of an X-Cart payment status code. Only `P` is paid, as in
/// X-Cart's own Acumatica add-on; a code the bridge does not know (a custom status) counts
/// as awaiting payment.
pub fn payment_status(code: Option<&str>) -> PaymentStatus {
    match code.map(|c| c.trim().to_ascii_uppercase()).as_deref() {
        Some("A") => PaymentStatus::Authorized,
        Some("PP") => PaymentStatus::PartiallyPaid,
        Some("P") => PaymentStatus::Paid,
        Some("D") => PaymentStatus::Declined,
        Some("C") => PaymentStatus::Canceled,
        Some("R") => PaymentStatus::Refunded,
        _ => PaymentStatus::Queued,
    }
}

/// Shipping, tax and discount of an order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Charges {
    pub shipping: Option<Decimal>,
    pub tax: Option<Decimal>,
    pub discount: Option<Decimal>,
}

/// Shipping, tax and discount of an order from its surcharges; an error when they add up to
/// more than a decimal holds (such an order is rejected, never a panic).
pub fn charges(o: &OrderOutput) -> Result<Charges, String> {
    let (mut shipping, mut tax, mut discount) = (None::<Decimal>, None::<Decimal>, None::<Decimal>);
    let add = |slot: &mut Option<Decimal>, v: Decimal| -> Result<(), String> {
        let sum = slot.unwrap_or_default().checked_add(v).ok_or_else(|| {
            format!(
                "X-Cart order {} has surcharges too large to add up",
                o.order_number.as_deref().unwrap_or_default()
            )
        })?;
        *slot = Some(sum);
        Ok(())
    };
    for s in o.surcharges.iter().filter(|s| !s.include) {
        match s.kind.trim().to_ascii_lowercase().as_str() {
            "tax" => add(&mut tax, s.value)?,
            "discount" => add(&mut discount, -s.value)?,
            // shipping, handling and whatever a module adds (payment fees…)
            _ => add(&mut shipping, s.value)?,
        }
    }
    // A "discount" that adds to the total is a charge; a charge that takes off is a discount.
    if let Some(d) = discount.filter(|d| d.is_sign_negative() && !d.is_zero()) {
        add(&mut shipping, -d)?;
        discount = Some(Decimal::ZERO);
    }
    if let Some(s) = shipping.filter(|s| s.is_sign_negative() && !s.is_zero()) {
        add(&mut discount, -s)?;
        shipping = Some(Decimal::ZERO);
    }
    if let Some(t) = tax.filter(|t| t.is_sign_negative() && !t.is_zero()) {
        add(&mut discount, -t)?;
        tax = Some(Decimal::ZERO);
    }
    Ok(Charges {
        shipping,
        tax,
        discount,
    })
}

fn text(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn custom(a: &AddressOutput, name: &str) -> Option<String> {
    a.custom_fields
        .iter()
        .find(|f| {
            f.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .and_then(|f| match &f.value {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            _ => None,
        })
}

fn address(a: &AddressOutput) -> AddressDraft {
    AddressDraft {
        first_name: text(&a.firstname),
        last_name: text(&a.lastname),
        company: custom(a, "company"),
        street: text(&a.street),
        street2: None,
        city: text(&a.city),
        state: text(&a.state_name),
        postal_code: text(&a.zipcode),
        country: text(&a.country_code).unwrap_or_default(),
        phone: text(&a.phone),
    }
}

/// The draft of an X-Cart order, before validation. Fails only for what has no bridge
/// equivalent at all (no order number, unreadable, no address, surcharges beyond any decimal).
pub fn to_draft(o: &OrderOutput) -> Result<OrderDraft, String> {
    let number = text(&o.order_number)
        .ok_or_else(|| format!("X-Cart order id {} has no order number (a cart)", o.id))?;
    if let Some(why) = &o.unreadable {
        return Err(format!("X-Cart order {number} cannot be imported: {why}"));
    }
    let billing = o
        .billing_address
        .as_ref()
        .or(o.shipping_address.as_ref())
        .ok_or_else(|| format!("X-Cart order {number} has no billing or shipping address"))?;
    let phone = o
        .billing_address
        .as_ref()
        .and_then(|a| text(&a.phone))
        .or_else(|| o.shipping_address.as_ref().and_then(|a| text(&a.phone)));
    let placed_at = match super::model::parse_date(&o.create_date) {
        Ok(t) => RawDateTime::Valid(t),
        Err(why) => RawDateTime::Invalid(why),
    };
    let items = o
        .items
        .iter()
        .map(|i| {
            let sku = text(&i.sku).unwrap_or_default();
            ItemDraft {
                name: text(&i.name).unwrap_or_else(|| sku.clone()),
                sku,
                price: RawDecimal::Valid(i.price),
                // Out of i32's range: clamped, so that validation names the real problem.
                quantity: i.amount.clamp(i32::MIN.into(), i32::MAX.into()) as i32,
                warehouse_id: None,
            }
        })
        .collect();
    let c = charges(o)?;
    Ok(OrderDraft {
        number,
        profile_id: o.customer_id.map(|id| id.to_string()),
        email: text(&o.email).unwrap_or_default(),
        phone,
        placed_at,
        currency: text(&o.currency).unwrap_or_default(),
        payment_status: payment_status(o.payment_status.as_ref().map(|s| s.code.as_str())),
        billing_address: address(billing),
        shipping_address: o.shipping_address.as_ref().map(address),
        items,
        shipping_cost: c.shipping.map(RawDecimal::Valid),
        discount_total: c.discount.map(RawDecimal::Valid),
        tax_total: c.tax.map(RawDecimal::Valid),
        total: RawDecimal::Valid(o.total),
        refunded_total: None,
        payment_method: text(&o.payment_method_name),
    })
}

/// The validated bridge order of an X-Cart order, or why it cannot be one.
pub fn to_new_order(o: &OrderOutput) -> Result<NewOrder, String> {
    let draft = to_draft(o)?;
    let number = draft.number.clone();
    draft
        .validate("order")
        .map_err(|e| format!("X-Cart order {number} cannot be imported: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xcart::model::OrderPage;

    /// The example order of the notes (§5.1).
    pub const EXAMPLE: &str = r#"{
      "order_number": "5", "id": 5, "total": 56.08, "sub_total": 49.98, "email": "jane@example.com",
      "items": [
        {"id": 11, "product_id": 40, "sku": "10001", "update_date": "2024-03-05T14:22:10+0000",
         "name": "Phone case", "price": 19.99, "item_net_price": 19.99, "discounted_subtotal": 35.98,
         "amount": 2, "backordered_amount": 0, "surcharges": []},
        {"id": 12, "product_id": 41, "sku": "10002", "update_date": "2024-03-05T14:22:10+0000",
         "name": "Screen film", "price": 10.0, "item_net_price": 10.0, "discounted_subtotal": 9.0,
         "amount": 1, "backordered_amount": 0, "surcharges": []}
      ],
      "billing_address": {"id": 31, "is_billing": true, "is_shipping": true, "is_work": false, "type": "R",
        "title": "", "firstname": "Jane", "lastname": "Doe", "phone": "+1 217 555 0100",
        "street": "1 Main St", "zipcode": "62701", "city": "Springfield", "country_code": "US",
        "state": 562, "state_name": "Illinois", "custom_fields": []},
      "shipping_address": {"id": 32, "firstname": "John", "lastname": "Doe", "phone": "",
        "street": "2 Side St", "zipcode": "62702", "city": "Springfield", "country_code": "US",
        "state": 562, "state_name": "Illinois", "custom_fields": [{"name": "company", "value": "Doe Inc"}]},
      "create_date": "2024-03-05T14:22:10+0000",
      "update_date": "2024-03-05T14:25:41+0000",
      "payment_status": {"id": 4, "code": "P", "name": "Paid", "customer_name": "Paid"},
      "shipping_status": {"id": 1, "code": "N", "name": "New", "customer_name": "New"},
      "customer_id": 12, "order_profile_id": 57, "shipping_id": 90, "shipping_method_name": "Courier",
      "notes": "Leave at the door", "admin_notes": "", "currency": "USD", "stock_status": "",
      "surcharges": [
        {"id": 101, "type": "shipping", "code": "SHIPPING", "class": "XLite\\Logic\\Order\\Modifier\\Shipping",
         "include": false, "available": true, "value": 7.5, "name": "Shipping cost", "weight": 0},
        {"id": 102, "type": "discount", "code": "DCOUPON", "class": "CDev\\Coupons\\Logic\\Order\\Modifier\\Discount",
         "include": false, "available": true, "value": -5.0, "name": "Coupon discount", "weight": 0},
        {"id": 103, "type": "tax", "code": "CDEV.STAX.1", "class": "CDev\\SalesTax\\Logic\\Order\\Modifier\\Tax",
         "include": false, "available": true, "value": 3.6, "name": "Sales tax", "weight": 0}
      ],
      "tracking_numbers": []
    }"#;

    fn example() -> OrderOutput {
        OrderPage::parse(&format!("[{EXAMPLE}]"))
            .unwrap()
            .orders
            .remove(0)
    }

    fn with(change: impl FnOnce(&mut serde_json::Value)) -> OrderOutput {
        let mut v: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
        change(&mut v);
        OrderPage::parse(&format!("[{v}]"))
            .unwrap()
            .orders
            .remove(0)
    }

    #[test]
    fn the_example_order_maps_field_by_field() {
        let o = to_new_order(&example()).unwrap();
        assert_eq!(o.number, "5");
        assert_eq!(o.profile_id.as_deref(), Some("12"));
        assert_eq!(o.email, "jane@example.com");
        assert_eq!(o.phone.as_deref(), Some("+1 217 555 0100"));
        assert_eq!(o.placed_at.to_rfc3339(), "2024-03-05T14:22:10+00:00");
        assert_eq!(o.currency, "USD");
        assert_eq!(o.payment_status, PaymentStatus::Paid);
        assert_eq!(
            o.payment_method, None,
            "the example names no payment method"
        );
        let named = with(|v| v["payment_method_name"] = serde_json::json!(" PayPal "));
        assert_eq!(
            to_new_order(&named).unwrap().payment_method.as_deref(),
            Some("PayPal")
        );
        let b = &o.billing_address;
        assert_eq!(
            (
                b.first_name.as_deref(),
                b.last_name.as_deref(),
                b.street.as_deref()
            ),
            (Some("Jane"), Some("Doe"), Some("1 Main St"))
        );
        assert_eq!(
            (
                b.city.as_deref(),
                b.state.as_deref(),
                b.postal_code.as_deref(),
                b.country.as_str()
            ),
            (Some("Springfield"), Some("Illinois"), Some("62701"), "US")
        );
        assert_eq!(b.phone.as_deref(), Some("+1 217 555 0100"));
        let s = o.shipping_address.as_ref().unwrap();
        assert_eq!(s.first_name.as_deref(), Some("John"));
        assert_eq!(s.company.as_deref(), Some("Doe Inc"));
        assert_eq!(s.phone, None);
        assert_eq!(o.items.len(), 2);
        assert_eq!(
            (
                o.items[0].sku.as_str(),
                o.items[0].name.as_str(),
                o.items[0].quantity
            ),
            ("10001", "Phone case", 2)
        );
        assert_eq!(o.items[0].price.to_string(), "19.99");
        assert_eq!(o.items[1].price.to_string(), "10.0");
        assert_eq!(o.shipping_cost.unwrap().to_string(), "7.5");
        assert_eq!(o.discount_total.unwrap().to_string(), "5.0");
        assert_eq!(o.tax_total.unwrap().to_string(), "3.6");
        assert_eq!(o.total.to_string(), "56.08");
    }

    #[test]
    fn every_payment_code() {
        for (code, want) in [
            ("Q", PaymentStatus::Queued),
            ("A", PaymentStatus::Authorized),
            ("PP", PaymentStatus::PartiallyPaid),
            ("P", PaymentStatus::Paid),
            ("D", PaymentStatus::Declined),
            ("C", PaymentStatus::Canceled),
            ("R", PaymentStatus::Refunded),
            ("X_CUSTOM", PaymentStatus::Queued),
        ] {
            let o = with(|v| v["payment_status"]["code"] = code.into());
            assert_eq!(to_new_order(&o).unwrap().payment_status, want, "{code}");
        }
        let o = with(|v| v["payment_status"] = serde_json::Value::Null);
        assert_eq!(
            to_new_order(&o).unwrap().payment_status,
            PaymentStatus::Queued
        );
    }

    #[test]
    fn included_tax_stays_out_and_handling_goes_to_shipping() {
        // VAT inside the prices: total = lines + shipping + handling + fee - discount.
        let o = with(|v| {
            v["surcharges"] = serde_json::json!([
                {"type": "shipping", "value": 7.5, "include": false},
                {"type": "handling", "code": "HANDLING", "value": 2.25, "include": false},
                {"type": "paymentfee", "value": 1.0, "include": false},
                {"type": "discount", "value": -5.0, "include": false},
                {"type": "tax", "code": "VAT", "value": 8.33, "include": true}
            ]);
            v["total"] = serde_json::json!(55.73);
        });
        let n = to_new_order(&o).unwrap();
        assert_eq!(n.tax_total, None);
        assert_eq!(n.shipping_cost.unwrap().to_string(), "10.75");
        assert_eq!(n.discount_total.unwrap().to_string(), "5.0");
        // And the totals add up (validation checks them within one cent).
        let o = with(|v| v["total"] = serde_json::json!(99.99));
        let e = to_new_order(&o).unwrap_err();
        assert!(e.contains("order 5") && e.contains("order.total"), "{e}");
    }

    #[test]
    fn odd_signs_keep_totals_matching() {
        let o = with(|v| {
            v["surcharges"] = serde_json::json!([
                {"type": "discount", "value": 2.0, "include": false},
                {"type": "handling", "value": -1.0, "include": false}
            ]);
            v["total"] = serde_json::json!(50.98);
        });
        let c = charges(&o).unwrap();
        assert_eq!(c.shipping.unwrap(), Decimal::from(1));
        assert_eq!(c.discount.unwrap(), Decimal::ZERO);
        assert!(to_new_order(&o).is_ok());
    }

    #[test]
    fn guests_missing_parts_and_carts() {
        let o = with(|v| v["customer_id"] = serde_json::Value::Null);
        assert_eq!(to_new_order(&o).unwrap().profile_id, None);
        let o = with(|v| {
            v["billing_address"] = serde_json::Value::Null;
        });
        let n = to_new_order(&o).unwrap();
        assert_eq!(n.billing_address.first_name.as_deref(), Some("John"));
        assert_eq!(n.phone, None);
        let o = with(|v| v["order_number"] = serde_json::Value::Null);
        assert!(to_new_order(&o).unwrap_err().contains("cart"));
        let o = with(|v| {
            v["billing_address"] = serde_json::Value::Null;
            v["shipping_address"] = serde_json::Value::Null;
        });
        assert!(to_new_order(&o).unwrap_err().contains("no billing"));
        let o = with(|v| v["items"][0]["name"] = "".into());
        assert_eq!(to_new_order(&o).unwrap().items[0].name, "10001");
        let o = with(|v| v["email"] = serde_json::Value::Null);
        assert!(to_new_order(&o).unwrap_err().contains("order.email"));
    }

    #[test]
    fn huge_amounts_are_refused_not_a_panic() {
        let max = "79228162514264337593543950335";
        let o = with(|v| {
            v["items"][0]["price"] = max.into();
            v["items"][0]["amount"] = 2.into();
        });
        let e = to_new_order(&o).unwrap_err();
        assert!(e.contains("order.items.0.price"), "{e}");
        let o = with(|v| {
            v["surcharges"] = serde_json::json!([
                {"type": "shipping", "value": max, "include": false},
                {"type": "handling", "value": max, "include": false}
            ]);
        });
        assert!(to_new_order(&o).unwrap_err().contains("too large"));
        let o = with(|v| v["items"][0]["amount"] = serde_json::json!(i64::MAX));
        let e = to_new_order(&o).unwrap_err();
        assert!(
            e.contains("order.items.0.quantity") && e.contains("at most"),
            "{e}"
        );
    }
}

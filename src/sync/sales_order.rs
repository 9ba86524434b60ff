//! The Sales Order a store order becomes (field names as in the official schema: Acumatica
//! silently drops others), and the comparison of Acumatica's totals with the store's.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::plan;
use crate::acumatica::{
    Address, DocContact, SalesOrder, SalesOrderDetail, SalesOrderPayment, ShippingSettings,
};
use crate::domain::money;
use crate::domain::order::{self, CreateIntent, NewOrder, PaymentStatus};
use crate::domain::settings::SyncSettings;

/// CustomerOrder and ExternalRef: the prefix setting + the store's order number.
pub fn customer_order(order: &NewOrder, settings: &SyncSettings) -> String {
    format!(
        "{}{}",
        settings.order_number_prefix.as_deref().unwrap_or(""),
        order.number
    )
}

/// "First Last" of an address, when it has either.
pub fn name(a: &order::Address) -> Option<String> {
    let full = [a.first_name.as_deref(), a.last_name.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!full.is_empty()).then_some(full)
}

/// An Acumatica address from a store address.
pub fn address(a: &order::Address) -> Address {
    Address {
        address_line1: a.street.clone(),
        address_line2: a.street2.clone(),
        city: a.city.clone(),
        state: a.state.clone(),
        postal_code: a.postal_code.clone(),
        country: Some(a.country.clone()),
        ..Default::default()
    }
}

/// The identity a new create of `order` gets from the settings now: order type,
/// CustomerOrder, and with the manual-numbering setting the same text as OrderNbr.
pub fn intent(order: &NewOrder, settings: &SyncSettings, now: DateTime<Utc>) -> CreateIntent {
    let reference = customer_order(order, settings);
    CreateIntent {
        order_type: settings.sales_order_type.clone(),
        order_nbr: settings
            .use_store_number_as_order_nbr
            .then(|| reference.clone()),
        customer_order: reference,
        sent_at: now,
    }
}

/// The Sales Order for `order`, to be created for `customer_id` with the identity of
/// `intent` (order type, CustomerOrder and ExternalRef, OrderNbr if any).
pub fn build(
    order: &NewOrder,
    settings: &SyncSettings,
    customer_id: &str,
    intent: &CreateIntent,
) -> SalesOrder {
    let reference = intent.customer_order.clone();
    let ship = order
        .shipping_address
        .as_ref()
        .unwrap_or(&order.billing_address);
    let scale = plan::minor_units(&order.currency);
    let amounts: Vec<Decimal> = order
        .items
        .iter()
        .map(|i| i.price * Decimal::from(i.quantity))
        .collect();
    let discounts = plan::split_discount(order.discount_total.unwrap_or_default(), &amounts, scale);
    let details = order
        .items
        .iter()
        .zip(discounts)
        .map(|(item, discount)| SalesOrderDetail {
            inventory_id: Some(item.sku.trim().to_owned()),
            line_description: Some(item.name.clone()),
            order_qty: Some(Decimal::from(item.quantity)),
            unit_price: Some(item.price),
            manual_price: Some(true),
            warehouse_id: item
                .warehouse_id
                .clone()
                .or_else(|| settings.warehouse_id.clone()),
            discount_amount: (!discount.is_zero()).then_some(discount),
            manual_discount: (!discount.is_zero()).then_some(true),
            ..Default::default()
        })
        .collect();
    SalesOrder {
        order_type: Some(intent.order_type.clone()),
        order_nbr: intent.order_nbr.clone(),
        customer_id: Some(customer_id.to_owned()),
        date: Some(settings.order_date(order.placed_at)),
        description: Some(format!("Store order {}", order.number)),
        customer_order: Some(reference.clone()),
        external_ref: Some(reference),
        currency_id: Some(order.currency.clone()),
        hold: Some(false),
        ship_to_address_override: Some(true),
        ship_to_address: Some(address(ship)),
        ship_to_contact_override: Some(true),
        ship_to_contact: Some(DocContact {
            attention: name(ship),
            business_name: ship.company.clone().or_else(|| name(ship)),
            email: Some(order.email.clone()),
            phone1: ship.phone.clone().or_else(|| order.phone.clone()),
            ..Default::default()
        }),
        shipping_settings: order.shipping_cost.map(|cost| ShippingSettings {
            freight_price: Some(cost),
            override_freight_price: Some(true),
            ..Default::default()
        }),
        details: Some(details),
        payments: payment(order, settings, &intent.customer_order).map(|p| vec![p]),
        ..Default::default()
    }
}

/// The payment row sent inside the Sales Order's create when the order is PAID and payments
/// are recorded: the store's total, applied by Acumatica up to the order's balance (its taxes
/// may differ from the store's, so no AppliedToOrder is sent); PaymentRef is the order's
/// CustomerOrder reference (the store gives no transaction id through the order API). The
/// method and cash account are the mapping row of the order's store method, else the defaults.
pub fn payment(
    order: &NewOrder,
    settings: &SyncSettings,
    reference: &str,
) -> Option<SalesOrderPayment> {
    let (method, account) = settings.payment_account_for(order.payment_method.as_deref())?;
    if order.payment_status != PaymentStatus::Paid || order.total <= Decimal::ZERO {
        return None;
    }
    Some(SalesOrderPayment {
        doc_type: Some(settings.payment_type.acumatica().to_owned()),
        payment_method: Some(method.to_owned()),
        cash_account: Some(account.to_owned()),
        payment_amount: Some(order.total),
        payment_ref: Some(reference.to_owned()),
        ..Default::default()
    })
}

/// The payments a Sales Order read back shows (rows without a reference are left out).
pub fn recorded_payments(so: &SalesOrder) -> Vec<order::RecordedPayment> {
    so.payments
        .iter()
        .flatten()
        .filter_map(|p| {
            Some(order::RecordedPayment {
                doc_type: p.doc_type.clone().unwrap_or_else(|| "Payment".into()),
                reference_nbr: p.reference_nbr.clone()?,
                amount: p.payment_amount.unwrap_or_default(),
                applied_to_order: p.applied_to_order,
                status: p.status.clone(),
                payment_method: p.payment_method.clone(),
                payment_ref: p.payment_ref.clone(),
            })
        })
        .collect()
}

/// A warning when a Sales Order with a payment still has an unpaid balance.
pub fn balance_left(so: &SalesOrder) -> Option<String> {
    let paid = so.payments.as_ref().is_some_and(|p| !p.is_empty());
    let left = so.totals.as_ref()?.unpaid_balance?;
    (paid && left > Decimal::ZERO).then(|| {
        format!("Acumatica's unpaid balance is {left} after the payment recorded with the order.")
    })
}

/// Warnings when Acumatica's line total or freight differ from the store's by more than one
/// cent (taxes are Acumatica's own and not compared).
pub fn compare_totals(order: &NewOrder, saved: &SalesOrder) -> Vec<String> {
    let mut warnings = vec![];
    let lines: Decimal = order
        .items
        .iter()
        .map(|i| i.price * Decimal::from(i.quantity))
        .sum::<Decimal>()
        - order.discount_total.unwrap_or_default();
    let totals = saved.totals.as_ref();
    let theirs_lines = totals.and_then(|t| t.line_total).or_else(|| {
        saved
            .details
            .as_ref()
            .map(|d| d.iter().filter_map(|l| l.amount).sum())
    });
    if let Some(theirs) = theirs_lines
        && (theirs - lines).abs() > money::cent()
    {
        warnings.push(format!(
            "Acumatica's line total {theirs} differs from the store's {lines} (after discount)."
        ));
    }
    let freight = order.shipping_cost.unwrap_or_default();
    let theirs_freight = totals.and_then(|t| t.freight).or_else(|| {
        saved
            .shipping_settings
            .as_ref()
            .and_then(|s| s.freight_price)
    });
    if let Some(theirs) = theirs_freight
        && (theirs - freight).abs() > money::cent()
    {
        warnings.push(format!(
            "Acumatica's freight {theirs} differs from the store's shipping cost {freight}."
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::{AddressDraft, ItemDraft, OrderDraft, PaymentStatus};
    use crate::domain::raw::{RawDateTime, RawDecimal};

    fn order() -> NewOrder {
        OrderDraft {
            number: "1001".into(),
            profile_id: None,
            email: "ann@example.com".into(),
            phone: None,
            placed_at: RawDateTime::parse("2026-01-31T12:00:00Z"),
            currency: "USD".into(),
            payment_status: PaymentStatus::Paid,
            billing_address: AddressDraft {
                country: "US".into(),
                first_name: Some("Ann".into()),
                ..Default::default()
            },
            shipping_address: None,
            items: vec![
                ItemDraft {
                    sku: "A".into(),
                    name: "A".into(),
                    price: RawDecimal::parse("10.00"),
                    quantity: 1,
                    warehouse_id: Some("RETAIL".into()),
                },
                ItemDraft {
                    sku: "B".into(),
                    name: "B".into(),
                    price: RawDecimal::parse("10.00"),
                    quantity: 2,
                    warehouse_id: None,
                },
            ],
            shipping_cost: Some(RawDecimal::parse("5.00")),
            discount_total: Some(RawDecimal::parse("1.00")),
            tax_total: None,
            total: RawDecimal::parse("34.00"),
            refunded_total: None,
            payment_method: None,
        }
        .validate("input")
        .unwrap()
    }

    #[test]
    fn the_sales_order_carries_what_acumatica_needs() {
        let settings = SyncSettings {
            order_number_prefix: Some("XC-".into()),
            warehouse_id: Some("WHOLESALE".into()),
            ..Default::default()
        };
        let so = build(
            &order(),
            &settings,
            "C000001",
            &intent(&order(), &settings, Utc::now()),
        );
        assert_eq!(so.customer_order.as_deref(), Some("XC-1001"));
        assert_eq!(so.external_ref.as_deref(), Some("XC-1001"));
        assert_eq!(so.hold, Some(false));
        let d = so.details.unwrap();
        assert_eq!(d[0].warehouse_id.as_deref(), Some("RETAIL"));
        assert_eq!(
            d[1].warehouse_id.as_deref(),
            Some("WHOLESALE"),
            "the default warehouse"
        );
        assert!(d.iter().all(|l| l.manual_price == Some(true)));
        let discounts: Decimal = d.iter().filter_map(|l| l.discount_amount).sum();
        assert_eq!(discounts, Decimal::new(100, 2));
        assert_eq!(
            d[1].discount_amount,
            Some(Decimal::new(67, 2)),
            "in proportion: 20 of 30"
        );
        assert!(
            so.payments.is_none(),
            "no payment without method and account"
        );
        let paid = SyncSettings {
            payment_method: Some("CREDITCARD".into()),
            cash_account: Some("10250".into()),
            ..settings.clone()
        };
        let row = payment(&order(), &paid, "XC-1001").expect("a payment row");
        assert_eq!(row.payment_amount, Some(Decimal::new(3400, 2)));
        assert_eq!(row.doc_type.as_deref(), Some("Prepayment"));
        assert_eq!(row.payment_ref.as_deref(), Some("XC-1001"));
        let mut unpaid = order();
        unpaid.payment_status = PaymentStatus::Queued;
        assert!(payment(&unpaid, &paid, "XC-1001").is_none());
        let freight = so.shipping_settings.unwrap();
        assert_eq!(
            (freight.freight_price, freight.override_freight_price),
            (Some(Decimal::new(500, 2)), Some(true))
        );
    }
}

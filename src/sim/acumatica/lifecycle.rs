//! An order's life after it is saved, as the simulator keeps it: payments (a `Payment` PUT, or
//! rows of the Sales Order's `Payments` detail, which create one each), applied to orders
//! through `OrdersToApply`, released by the `ReleasePayment` action; the order's unpaid balance
//! (its total less what payments apply to it); shipments (made by the control call
//! `POST /_sim/shipments`, as a warehouse would); and the `CancelSalesOrder` action, refused
//! for an order with a shipment.
//!
//! Payment statuses follow Acumatica's: On Hold, Balanced (saved, not released), Open (released,
//! applied to an order but not to an invoice). Cash accounts are those a payment method allows
//! (`PaymentMethod.AllowedCashAccounts`), as in Acumatica.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::rules::{dec, find, money, now_text, set, text};
use super::state::State;

/// Payment types the simulator accepts.
const PAYMENT_TYPES: &[&str] = &["Payment", "Prepayment"];

/// Why an action was refused: Acumatica answers a `PXException` as a 500.
pub struct Refused(pub String);

fn next_number(state: &State, entity: &str) -> String {
    format!("{:06}", state.records.get(entity).map_or(0, Vec::len) + 1)
}

fn order_index(state: &State, order_type: &str, nbr: &str) -> Option<usize> {
    state.records.get("SalesOrder")?.iter().position(|r| {
        text(r, "OrderType").is_some_and(|t| t.eq_ignore_ascii_case(order_type))
            && text(r, "OrderNbr").is_some_and(|n| n.eq_ignore_ascii_case(nbr))
    })
}

/// What the orders named by `OrdersToApply` of every payment but `except` already have applied.
fn applied_to(state: &State, order_type: &str, nbr: &str, except: Option<&str>) -> Decimal {
    state
        .records
        .get("Payment")
        .into_iter()
        .flatten()
        .filter(|p| text(p, "Status") != Some("Voided"))
        .filter(|p| except.is_none() || p.get("id").and_then(Value::as_str) != except)
        .flat_map(|p| p.get("OrdersToApply").and_then(Value::as_array).cloned())
        .flatten()
        .filter(|row| {
            text(row, "OrderType").is_some_and(|t| t.eq_ignore_ascii_case(order_type))
                && text(row, "OrderNbr").is_some_and(|n| n.eq_ignore_ascii_case(nbr))
        })
        .map(|row| dec(&row, "AppliedToOrder").unwrap_or_default())
        .sum()
}

fn unpaid(state: &State, order: &Value, except: Option<&str>) -> Decimal {
    let (t, n) = (
        text(order, "OrderType").unwrap_or("SO"),
        text(order, "OrderNbr").unwrap_or(""),
    );
    dec(order, "OrderTotal").unwrap_or_default() - applied_to(state, t, n, except)
}

/// A new AR document of `entity` (a payment, a credit memo): numbered, On Hold when `Hold`
/// says so, else Balanced, as Acumatica saves it.
fn open_document(state: &State, record: &mut Value, entity: &str) {
    set(
        record,
        "ReferenceNbr",
        Value::from(next_number(state, entity)),
    );
    let hold = record.get("Hold") == Some(&Value::Bool(true));
    set(record, "Hold", Value::Bool(hold));
    set(
        record,
        "Status",
        Value::from(if hold { "On Hold" } else { "Balanced" }),
    );
}

/// The document's customer, in `field`: given and known, or the error Acumatica answers.
fn check_customer(
    state: &State,
    record: &Value,
    field: &str,
    errors: &mut BTreeMap<String, String>,
) {
    match text(record, field) {
        None => {
            errors.insert(field.into(), "'Customer' cannot be empty.".into());
        }
        Some(c) if find(state, "Customer", "CustomerID", c).is_none() => {
            errors.insert(
                field.into(),
                "'Customer' cannot be found in the system.".into(),
            );
        }
        Some(_) => {}
    }
}

/// Checks and completes an AR document about to be saved: the simulator takes credit memos
/// (`Type` "Credit Memo", the credit of a refund) for a known customer, with at least one
/// line; `Amount` is the sum of the lines (Qty × UnitPrice), the status Balanced (On Hold with
/// `Hold`).
pub fn credit_memo(
    state: &State,
    record: &mut Value,
    created: bool,
    errors: &mut BTreeMap<String, String>,
) {
    if created {
        let kind = text(record, "Type").unwrap_or("").to_string();
        if kind != "Credit Memo" {
            errors.insert("Type".into(), format!("'Type' cannot be '{kind}'."));
        }
        open_document(state, record, "Invoice");
    }
    check_customer(state, record, "Customer", errors);
    let lines: Vec<Value> = record
        .get("Details")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if lines.is_empty() {
        errors.insert(
            "Details".into(),
            "A credit memo needs at least one line.".into(),
        );
    }
    let amount: Decimal = lines
        .iter()
        .map(|l| dec(l, "Qty").unwrap_or(Decimal::ONE) * dec(l, "UnitPrice").unwrap_or_default())
        .sum();
    set(record, "Amount", money(amount));
    set(record, "Balance", money(amount));
}

/// Checks and completes a Payment about to be saved (`record` merged with the PUT).
pub fn payment(
    state: &State,
    record: &mut Value,
    created: bool,
    errors: &mut BTreeMap<String, String>,
) {
    if created {
        let kind = text(record, "Type").unwrap_or("Prepayment").to_string();
        if !PAYMENT_TYPES.contains(&kind.as_str()) {
            errors.insert("Type".into(), format!("'Type' cannot be '{kind}'."));
        }
        set(record, "Type", Value::from(kind));
        open_document(state, record, "Payment");
        if text(record, "CurrencyID").is_none() {
            set(record, "CurrencyID", Value::from("USD"));
        }
        if text(record, "ApplicationDate").is_none() {
            let today = chrono::Utc::now().format("%Y-%m-%dT00:00:00+00:00");
            set(record, "ApplicationDate", Value::from(today.to_string()));
        }
    }
    let customer = text(record, "CustomerID").map(str::to_owned);
    check_customer(state, record, "CustomerID", errors);
    method_and_account(state, record, "", errors);
    let amount = dec(record, "PaymentAmount").unwrap_or_default();
    if amount <= Decimal::ZERO {
        errors.insert(
            "PaymentAmount".into(),
            "'Payment Amount' must be greater than 0.".into(),
        );
    }
    set(record, "PaymentAmount", money(amount));
    let id = record.get("id").and_then(Value::as_str).map(str::to_owned);
    let mut rows = record
        .get("OrdersToApply")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut left = amount;
    for (i, row) in rows.iter_mut().enumerate() {
        let at = |f: &str| format!("OrdersToApply/{i}/{f}");
        let (t, n) = (
            text(row, "OrderType").unwrap_or("SO").to_string(),
            text(row, "OrderNbr").unwrap_or("").to_string(),
        );
        set(row, "OrderType", Value::from(t.clone()));
        let Some(order) = order_index(state, &t, &n).map(|k| &state.records["SalesOrder"][k])
        else {
            errors.insert(
                at("OrderNbr"),
                "'Order Nbr.' cannot be found in the system.".into(),
            );
            continue;
        };
        if text(order, "Status") == Some("Canceled") {
            errors.insert(at("OrderNbr"), "The order is canceled.".into());
            continue;
        }
        if customer.as_deref().is_some_and(|c| {
            !text(order, "CustomerID").is_some_and(|oc| oc.eq_ignore_ascii_case(c))
        }) {
            errors.insert(
                at("OrderNbr"),
                "The order belongs to another customer.".into(),
            );
            continue;
        }
        let open = unpaid(state, order, id.as_deref());
        let applied = dec(row, "AppliedToOrder").unwrap_or_else(|| open.min(left));
        if applied > open || applied > left || applied < Decimal::ZERO {
            errors.insert(
                at("AppliedToOrder"),
                "The applied amount exceeds the balance of the order or of the payment.".into(),
            );
        }
        left -= applied;
        set(row, "AppliedToOrder", money(applied));
    }
    if record.get("OrdersToApply").is_some() {
        set(record, "OrdersToApply", Value::Array(rows));
    }
    set(record, "AvailableBalance", money(left.max(Decimal::ZERO)));
    set(record, "LastModifiedDateTime", Value::from(now_text()));
}

/// Checks that `PaymentMethod` exists and allows `CashAccount` (`prefix` locates the fields).
fn method_and_account(
    state: &State,
    record: &Value,
    prefix: &str,
    errors: &mut BTreeMap<String, String>,
) {
    let Some(method) = text(record, "PaymentMethod") else {
        errors.insert(
            format!("{prefix}PaymentMethod"),
            "'Payment Method' cannot be empty.".into(),
        );
        return;
    };
    let Some(found) = find(state, "PaymentMethod", "PaymentMethodID", method) else {
        errors.insert(
            format!("{prefix}PaymentMethod"),
            "'Payment Method' cannot be found in the system.".into(),
        );
        return;
    };
    let allowed = found
        .get("AllowedCashAccounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| text(a, "CashAccount"))
        .any(|a| text(record, "CashAccount").is_some_and(|c| c.eq_ignore_ascii_case(a)));
    if !allowed {
        errors.insert(
            format!("{prefix}CashAccount"),
            "'Cash Account' cannot be found in the system or is not allowed for the payment method."
                .into(),
        );
    }
}

/// Checks the new rows of a Sales Order's `Payments` detail (each becomes a payment). A row
/// without `AppliedToOrder` applies what it can: the payment's amount, at most the balance.
pub fn order_payment_rows(
    state: &State,
    record: &Value,
    touched: &BTreeSet<String>,
    errors: &mut BTreeMap<String, String>,
) {
    let rows = record.get("Payments").and_then(Value::as_array);
    let mut total = Decimal::ZERO;
    for (i, row) in rows.into_iter().flatten().enumerate() {
        let new = row
            .get("id")
            .and_then(Value::as_str)
            .is_some_and(|id| touched.contains(id))
            && text(row, "ReferenceNbr").is_none();
        if !new {
            continue;
        }
        let prefix = format!("Payments/{i}/");
        method_and_account(state, row, &prefix, errors);
        let kind = text(row, "DocType").unwrap_or("Prepayment");
        if !PAYMENT_TYPES.contains(&kind) {
            errors.insert(
                format!("{prefix}DocType"),
                format!("'Type' cannot be '{kind}'."),
            );
        }
        let amount = dec(row, "PaymentAmount").unwrap_or_default();
        if amount <= Decimal::ZERO {
            errors.insert(
                format!("{prefix}PaymentAmount"),
                "'Payment Amount' must be greater than 0.".into(),
            );
        }
        total += dec(row, "AppliedToOrder").unwrap_or_default();
    }
    if total > Decimal::ZERO && total > unpaid(state, record, None) {
        errors.insert(
            "Payments".into(),
            "The applied amount exceeds the unpaid balance of the order.".into(),
        );
    }
}

/// After a save: a Sales Order's new `Payments` rows become payments; the orders a payment
/// applies to get their balance and `Payments` detail again. Returns the record as saved.
pub fn after_save(state: &mut State, entity: &str, record: Value) -> Value {
    match entity {
        "SalesOrder" => {
            let (t, n) = (
                text(&record, "OrderType").unwrap_or("SO").to_string(),
                text(&record, "OrderNbr").unwrap_or("").to_string(),
            );
            let new_rows: Vec<Value> = record
                .get("Payments")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|r| text(r, "ReferenceNbr").is_none())
                .cloned()
                .collect();
            for row in new_rows {
                let amount = dec(&row, "PaymentAmount").unwrap_or_default();
                let open = state.records["SalesOrder"]
                    .iter()
                    .find(|o| text(o, "OrderNbr") == Some(n.as_str()))
                    .map(|o| unpaid(state, o, None))
                    .unwrap_or_default();
                let applied = dec(&row, "AppliedToOrder")
                    .unwrap_or_else(|| amount.min(open.max(Decimal::ZERO)));
                let mut p = json!({
                    "Type": text(&row, "DocType").unwrap_or("Prepayment"),
                    "CustomerID": text(&record, "CustomerID"),
                    "PaymentMethod": text(&row, "PaymentMethod"),
                    "CashAccount": text(&row, "CashAccount"),
                    "PaymentAmount": money(amount),
                    "Hold": row.get("Hold") == Some(&Value::Bool(true)),
                    "OrdersToApply": [{"OrderType": t, "OrderNbr": n, "AppliedToOrder": money(applied)}],
                });
                for f in ["PaymentRef", "ExternalRef", "Description"] {
                    if let Some(v) = text(&row, f) {
                        set(&mut p, f, Value::from(v));
                    }
                }
                let Value::Object(input) = p else { continue };
                let mut rec = Value::Object(Map::new());
                set(&mut rec, "id", Value::from(state.new_id()));
                for (k, v) in input {
                    set(&mut rec, &k, v);
                }
                let mut errors = BTreeMap::new();
                payment(state, &mut rec, true, &mut errors);
                state.records.entry("Payment".into()).or_default().push(rec);
            }
            refresh_order(state, &t, &n);
        }
        "Payment" => {
            let orders: Vec<(String, String)> = record
                .get("OrdersToApply")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|r| {
                    (
                        text(r, "OrderType").unwrap_or("SO").to_string(),
                        text(r, "OrderNbr").unwrap_or("").to_string(),
                    )
                })
                .collect();
            for (t, n) in orders {
                refresh_order(state, &t, &n);
            }
        }
        _ => {}
    }
    let id = record.get("id").and_then(Value::as_str);
    state
        .records
        .get(entity)
        .and_then(|list| {
            list.iter()
                .find(|r| r.get("id").and_then(Value::as_str) == id)
        })
        .cloned()
        .unwrap_or(record)
}

/// Sets an order's unpaid balance and `Payments` detail from the payments applied to it.
fn refresh_order(state: &mut State, order_type: &str, nbr: &str) {
    let Some(k) = order_index(state, order_type, nbr) else {
        return;
    };
    let rows: Vec<Value> = state
        .records
        .get("Payment")
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let row = p.get("OrdersToApply")?.as_array()?.iter().find(|r| {
                text(r, "OrderType").is_some_and(|t| t.eq_ignore_ascii_case(order_type))
                    && text(r, "OrderNbr").is_some_and(|n| n.eq_ignore_ascii_case(nbr))
            })?;
            Some(json!({
                "id": p.get("id")?.clone(),
                "DocType": text(p, "Type"), "ReferenceNbr": text(p, "ReferenceNbr"),
                "Status": text(p, "Status"), "PaymentMethod": text(p, "PaymentMethod"),
                "CashAccount": text(p, "CashAccount"), "PaymentRef": text(p, "PaymentRef"),
                "ExternalRef": text(p, "ExternalRef"), "PaymentAmount": p.get("PaymentAmount"),
                "AppliedToOrder": row.get("AppliedToOrder"), "Balance": p.get("AvailableBalance"),
                "Currency": text(p, "CurrencyID"), "ApplicationDate": text(p, "ApplicationDate"),
                "Hold": p.get("Hold"), "LastModifiedDateTime": text(p, "LastModifiedDateTime"),
            }))
        })
        .collect();
    let balance = {
        let order = &state.records["SalesOrder"][k];
        unpaid(state, order, None)
    };
    let order = &mut state.records.get_mut("SalesOrder").expect("found above")[k];
    let mut totals = order.get("Totals").cloned().unwrap_or(json!({}));
    set(&mut totals, "UnpaidBalance", money(balance));
    set(order, "Totals", totals);
    set(order, "Payments", Value::Array(rows));
}

/// The record an action's `entity` names (by `id` or by key fields).
fn locate_by(state: &State, entity: &str, given: &Value, keys: &[&str]) -> Option<usize> {
    let list = state.records.get(entity)?;
    if let Some(id) = given.get("id").and_then(Value::as_str) {
        return list
            .iter()
            .position(|r| r.get("id").and_then(Value::as_str) == Some(id));
    }
    let wanted: Vec<String> = keys
        .iter()
        .map(|k| {
            given
                .get(*k)
                .and_then(|v| v.get("value").or(Some(v)))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect::<Option<_>>()?;
    list.iter().position(|r| {
        keys.iter()
            .zip(&wanted)
            .all(|(k, w)| text(r, k).is_some_and(|v| v.eq_ignore_ascii_case(w)))
    })
}

fn not_found() -> Refused {
    Refused("No entity satisfies the condition.".into())
}

/// `POST /SalesOrder/CancelSalesOrder`: cancels an order without shipments. Canceling a canceled
/// order changes nothing.
pub fn cancel_sales_order(state: &mut State, given: &Value) -> Result<(), Refused> {
    let k =
        locate_by(state, "SalesOrder", given, &["OrderType", "OrderNbr"]).ok_or_else(not_found)?;
    let order = &state.records["SalesOrder"][k];
    if order
        .get("Shipments")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty())
    {
        return Err(Refused(
            "The sales order cannot be canceled because it has shipments.".into(),
        ));
    }
    let order = &mut state.records.get_mut("SalesOrder").expect("found above")[k];
    set(order, "Status", Value::from("Canceled"));
    set(order, "Hold", Value::Bool(false));
    set(order, "LastModified", Value::from(now_text()));
    Ok(())
}

/// `POST /Payment/ReleasePayment`: a Balanced payment becomes Open.
pub fn release_payment(state: &mut State, given: &Value) -> Result<(), Refused> {
    let k = locate_by(state, "Payment", given, &["Type", "ReferenceNbr"]).ok_or_else(not_found)?;
    let p = &mut state.records.get_mut("Payment").expect("found above")[k];
    match text(p, "Status") {
        Some("Balanced") => {
            set(p, "Status", Value::from("Open"));
            set(p, "LastModifiedDateTime", Value::from(now_text()));
        }
        Some("On Hold") => {
            return Err(Refused(
                "The document is on hold and cannot be released.".into(),
            ));
        }
        _ => return Err(Refused("The document has already been released.".into())),
    }
    let orders: Vec<(String, String)> = p
        .get("OrdersToApply")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            (
                text(r, "OrderType").unwrap_or("SO").to_string(),
                text(r, "OrderNbr").unwrap_or("").to_string(),
            )
        })
        .collect();
    for (t, n) in orders {
        refresh_order(state, &t, &n);
    }
    Ok(())
}

/// The control call `POST /_sim/shipments`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewShipment {
    #[serde(default = "so")]
    pub order_type: String,
    pub order_nbr: String,
    #[serde(default)]
    pub tracking_numbers: Vec<String>,
    #[serde(default = "yes")]
    pub confirmed: bool,
}

fn so() -> String {
    "SO".into()
}

fn yes() -> bool {
    true
}

/// Creates (and, when asked, confirms) a shipment of a whole order; refused for an order that
/// is missing, canceled or on hold.
pub fn ship(state: &mut State, new: &NewShipment) -> Result<Value, Refused> {
    let k = order_index(state, &new.order_type, &new.order_nbr).ok_or_else(not_found)?;
    let order = state.records["SalesOrder"][k].clone();
    match text(&order, "Status") {
        Some("Canceled") => return Err(Refused("The sales order is canceled.".into())),
        Some("On Hold") => return Err(Refused("The sales order is on hold.".into())),
        _ => {}
    }
    let nbr = next_number(state, "Shipment");
    let now = now_text();
    let status = if new.confirmed { "Confirmed" } else { "Open" };
    let qty = order.get("OrderedQty").cloned().unwrap_or(Value::from("0"));
    let details: Vec<Value> = order
        .get("Details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, d)| {
            json!({"id": format!("{nbr}-d{i}"), "LineNbr": i + 1, "OrderType": new.order_type,
                   "OrderNbr": new.order_nbr, "InventoryID": d.get("InventoryID"),
                   "ShippedQty": d.get("OrderQty"), "UOM": d.get("UOM"),
                   "WarehouseID": d.get("WarehouseID")})
        })
        .collect();
    let packages: Vec<Value> = new
        .tracking_numbers
        .iter()
        .enumerate()
        .map(|(i, t)| {
            json!({"id": format!("{nbr}-p{i}"), "LineNbr": i + 1, "TrackingNbr": t,
                   "Confirmed": new.confirmed})
        })
        .collect();
    let id = state.new_id();
    let shipment = json!({
        "id": id, "ShipmentNbr": nbr, "Type": "Shipment", "Operation": "Issue",
        "Status": status, "Hold": false, "CustomerID": order.get("CustomerID"),
        "ShipmentDate": chrono::Utc::now().format("%Y-%m-%dT00:00:00+00:00").to_string(),
        "ShippedQty": qty, "PackageCount": packages.len(),
        "CreatedDateTime": now, "LastModifiedDateTime": now,
        "Orders": [{"id": format!("{nbr}-o"), "OrderType": new.order_type,
                    "OrderNbr": new.order_nbr, "ShipmentNbr": nbr, "ShipmentType": "Shipment",
                    "ShippedQty": qty}],
        "Details": details, "Packages": packages,
    });
    state
        .records
        .entry("Shipment".into())
        .or_default()
        .push(shipment.clone());
    let order = &mut state.records.get_mut("SalesOrder").expect("found above")[k];
    let mut rows = order
        .get("Shipments")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    rows.push(
        json!({"id": format!("{nbr}-s"), "ShipmentNbr": nbr, "ShipmentType": "Shipment",
                     "Status": status, "ShipmentDate": shipment["ShipmentDate"],
                     "ShippedQty": qty, "LastModifiedDateTime": now}),
    );
    set(order, "Shipments", Value::Array(rows));
    set(
        order,
        "Status",
        Value::from(if new.confirmed {
            "Completed"
        } else {
            "Shipping"
        }),
    );
    set(order, "LastModified", Value::from(now));
    Ok(shipment)
}

/// Seed payment methods, each with the cash accounts it allows.
pub fn seed_payment_methods() -> Vec<Value> {
    let account = |method: &str, account: &str, description: &str, default: bool| {
        json!({"PaymentMethod": method, "CashAccount": account, "Description": description,
               "UseInAR": true, "ARDefault": default, "Branch": "PRODWHOLE"})
    };
    vec![
        json!({"PaymentMethodID": "CASH", "Description": "Cash", "Active": true,
               "MeansOfPayment": "Cash/Check", "UseInAR": true, "UseInAP": true,
               "AllowedCashAccounts": [account("CASH", "10100", "Petty cash", true)]}),
        json!({"PaymentMethodID": "CHECK", "Description": "Check", "Active": true,
               "MeansOfPayment": "Cash/Check", "UseInAR": true, "UseInAP": true,
               "AllowedCashAccounts": [account("CHECK", "10200", "Company checking account", true)]}),
        json!({"PaymentMethodID": "CREDITCARD", "Description": "Credit card (processed in the store)",
               "Active": true, "MeansOfPayment": "Credit Card", "UseInAR": true, "UseInAP": false,
               "AllowedCashAccounts": [
                   account("CREDITCARD", "10250", "Card clearing account", true),
                   account("CREDITCARD", "10200", "Company checking account", false)]}),
        json!({"PaymentMethodID": "PAYPAL", "Description": "PayPal", "Active": true,
               "MeansOfPayment": "Cash/Check", "UseInAR": true, "UseInAP": false,
               "AllowedCashAccounts": [account("PAYPAL", "10300", "PayPal balance", true)]}),
    ]
}

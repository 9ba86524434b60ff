//! What a PUT does to the simulator's records, as Acumatica does it: locate the record by `id`
//! or key fields (else insert), honour `If-None-Match: *` / `If-Match: *`, merge (detail rows
//! without an `id` are appended, so re-sent lines duplicate), apply the entity's own logic
//! (auto-numbers, defaults, On Hold, repricing and totals in decimals), and refuse with field
//! errors what Acumatica would refuse.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Map, Value};

use super::lifecycle;
use super::state::State;

/// Key fields of the simulated top-level entities.
pub const ENTITIES: &[(&str, &[&str])] = &[
    ("Customer", &["CustomerID"]),
    ("StockItem", &["InventoryID"]),
    ("SalesOrder", &["OrderType", "OrderNbr"]),
    ("CustomerClass", &["ClassID"]),
    ("ItemClass", &["ClassID"]),
    ("TaxCategory", &["TaxCategoryID"]),
    ("Warehouse", &["WarehouseID"]),
    ("Subaccount", &["SubaccountCD"]),
    ("Payment", &["Type", "ReferenceNbr"]),
    ("PaymentMethod", &["PaymentMethodID"]),
    ("Shipment", &["ShipmentNbr"]),
    ("Invoice", &["Type", "ReferenceNbr"]),
];

/// The key fields of `entity`, if the simulator serves it.
pub fn keys(entity: &str) -> Option<&'static [&'static str]> {
    ENTITIES.iter().find(|(e, _)| *e == entity).map(|(_, k)| *k)
}

/// Why a PUT was refused.
pub enum Reject {
    /// 412: the conditional header does not hold.
    Precondition(String),
    /// 422: the record with errors by field path.
    Invalid {
        record: Value,
        errors: BTreeMap<String, String>,
    },
}

/// Finds a record of `entity` whose `field` equals `value` (case-insensitively).
pub fn find<'a>(state: &'a State, entity: &str, field: &str, value: &str) -> Option<&'a Value> {
    state.records.get(entity)?.iter().find(|r| {
        r.get(field)
            .and_then(Value::as_str)
            .is_some_and(|v| v.eq_ignore_ascii_case(value))
    })
}

pub(super) fn text<'a>(record: &'a Value, field: &str) -> Option<&'a str> {
    record
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

pub(super) fn dec(record: &Value, field: &str) -> Option<Decimal> {
    match record.get(field)? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

/// Money: rounded to cents (half away from zero), shown with four places as Acumatica stores it.
pub fn money(d: Decimal) -> Value {
    let mut d = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    d.rescale(4);
    Value::String(d.to_string())
}

fn quantity(d: Decimal) -> Value {
    let mut d = d.round_dp_with_strategy(6, RoundingStrategy::MidpointAwayFromZero);
    d.rescale(6);
    Value::String(d.to_string())
}

pub(super) fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

/// Index of the record the input names (by `id`, else by all its key fields).
fn locate(state: &State, entity: &str, input: &Map<String, Value>) -> Option<usize> {
    let records = state.records.get(entity)?;
    if let Some(id) = input.get("id").and_then(Value::as_str) {
        return records
            .iter()
            .position(|r| r.get("id").and_then(Value::as_str) == Some(id));
    }
    let keys = keys(entity)?;
    let wanted: Vec<&str> = keys
        .iter()
        .map(|k| input.get(*k).and_then(Value::as_str))
        .collect::<Option<_>>()?;
    records.iter().position(|r| {
        keys.iter()
            .zip(&wanted)
            .all(|(k, w)| text(r, k).is_some_and(|v| v.eq_ignore_ascii_case(w)))
    })
}

/// Applies a PUT of `entity` (plain form) and saves it; returns the saved record.
pub fn put(
    state: &mut State,
    entity: &str,
    mut input: Map<String, Value>,
    if_none_match: bool,
    if_match: bool,
) -> Result<Value, Reject> {
    if entity == "SalesOrder" && !input.contains_key("OrderType") {
        input.insert("OrderType".into(), Value::String("SO".into()));
    }
    let found = locate(state, entity, &input);
    if if_none_match && found.is_some() {
        return Err(Reject::Precondition("The record already exists.".into()));
    }
    if if_match && found.is_none() {
        return Err(Reject::Precondition(
            "The record to update was not found.".into(),
        ));
    }
    let created = found.is_none();
    let mut record = match found {
        Some(i) => state.records[entity][i].clone(),
        None => {
            let mut r = Map::new();
            r.insert("id".into(), Value::String(state.new_id()));
            Value::Object(r)
        }
    };
    let mut touched = BTreeSet::new();
    let mut errors = BTreeMap::new();
    merge(state, &mut record, &input, &mut touched);
    match entity {
        "Customer" => customer(state, &mut record, created, &mut errors),
        "StockItem" => stock_item(state, &mut record, created, &mut errors),
        "SalesOrder" => {
            sales_order(state, &mut record, &input, created, &touched, &mut errors);
            lifecycle::order_payment_rows(state, &record, &touched, &mut errors);
        }
        "Payment" => lifecycle::payment(state, &mut record, created, &mut errors),
        "Invoice" => lifecycle::credit_memo(state, &mut record, created, &mut errors),
        _ => {
            if created {
                for k in keys(entity).unwrap_or(&[]) {
                    if text(&record, k).is_none() {
                        errors.insert((*k).to_string(), format!("'{k}' cannot be empty."));
                    }
                }
            }
        }
    }
    if !errors.is_empty() {
        let label = entity_label(entity);
        let verb = if created { "Inserting" } else { "Updating" };
        errors.insert(
            String::new(),
            format!("{verb} '{label}' record raised at least one error. Please review the errors."),
        );
        if created && entity == "SalesOrder" {
            set(&mut record, "OrderNbr", Value::from("<NEW>"));
        }
        return Err(Reject::Invalid { record, errors });
    }
    let list = state.records.entry(entity.to_string()).or_default();
    match found {
        Some(i) => list[i] = record.clone(),
        None => list.push(record.clone()),
    }
    Ok(lifecycle::after_save(state, entity, record))
}

fn entity_label(entity: &str) -> &str {
    match entity {
        "SalesOrder" => "Sales Order",
        "StockItem" => "Stock Item",
        other => other,
    }
}

/// Merges plain `input` into `record`: values overwrite, linked entities merge, detail rows
/// with an `id` update (or, with `delete: true`, remove) that row, rows without one are added.
fn merge(
    state: &mut State,
    record: &mut Value,
    input: &Map<String, Value>,
    touched: &mut BTreeSet<String>,
) {
    let Some(target) = record.as_object_mut() else {
        return;
    };
    for (k, v) in input {
        match v {
            Value::Object(linked) => {
                let slot = target
                    .entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                merge(state, slot, linked, touched);
            }
            Value::Array(rows) => {
                let list = target
                    .entry(k.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                let Some(list) = list.as_array_mut() else {
                    continue;
                };
                for row in rows.iter().filter_map(Value::as_object) {
                    let existing = row.get("id").and_then(Value::as_str).and_then(|id| {
                        list.iter()
                            .position(|r| r.get("id").and_then(Value::as_str) == Some(id))
                    });
                    match existing {
                        Some(i) if row.get("delete") == Some(&Value::Bool(true)) => {
                            list.remove(i);
                        }
                        Some(i) => {
                            let mut fields = row.clone();
                            fields.remove("delete");
                            merge(state, &mut list[i], &fields, touched);
                            if let Some(id) = list[i].get("id").and_then(Value::as_str) {
                                touched.insert(id.to_string());
                            }
                        }
                        None if row.get("delete") == Some(&Value::Bool(true)) => {}
                        None => {
                            let mut fresh = row.clone();
                            fresh.remove("delete");
                            let id = state.new_id();
                            fresh.insert("id".into(), Value::String(id.clone()));
                            touched.insert(id);
                            list.push(Value::Object(fresh));
                        }
                    }
                }
            }
            other => {
                target.insert(k.clone(), other.clone());
            }
        }
    }
}

pub(super) fn set(record: &mut Value, field: &str, value: Value) {
    if let Some(m) = record.as_object_mut() {
        m.insert(field.to_string(), value);
    }
}

fn set_default(record: &mut Value, field: &str, value: Option<&Value>) {
    if let (Some(m), Some(v)) = (record.as_object_mut(), value)
        && m.get(field).is_none_or(Value::is_null)
    {
        m.insert(field.to_string(), v.clone());
    }
}

fn must_exist(
    state: &State,
    record: &Value,
    field: &str,
    entity: &str,
    key: &str,
    label: &str,
    errors: &mut BTreeMap<String, String>,
) -> Option<Value> {
    let value = text(record, field)?;
    match find(state, entity, key, value) {
        Some(found) => Some(found.clone()),
        None => {
            errors.insert(
                field.to_string(),
                format!("'{label}' cannot be found in the system."),
            );
            None
        }
    }
}

fn customer(
    state: &mut State,
    record: &mut Value,
    created: bool,
    errors: &mut BTreeMap<String, String>,
) {
    if created {
        let renumber = state.faults.renumber_customer_ids;
        if state.faults.manual_customer_ids && text(record, "CustomerID").is_none() {
            set(record, "CustomerID", Value::String(String::new()));
            errors.insert("CustomerID".into(), "'Customer ID' cannot be empty.".into());
        } else if renumber || text(record, "CustomerID").is_none() {
            let id = loop {
                let candidate = format!("C{:06}", state.next_customer_nbr);
                state.next_customer_nbr += 1;
                if find(state, "Customer", "CustomerID", &candidate).is_none() {
                    break candidate;
                }
            };
            set(record, "CustomerID", Value::String(id));
        }
        if text(record, "CustomerName").is_none() {
            errors.insert(
                "CustomerName".into(),
                "'Account Name' cannot be empty.".into(),
            );
        }
        set_default(record, "Status", Some(&Value::from("Active")));
        set_default(record, "CurrencyID", Some(&Value::from("USD")));
        set_default(record, "CustomerClass", Some(&Value::from("DEFAULT")));
    }
    if let Some(class) = must_exist(
        state,
        record,
        "CustomerClass",
        "CustomerClass",
        "ClassID",
        "Customer Class",
        errors,
    ) {
        set_default(record, "TaxZone", class.get("TaxZoneID"));
        set_default(record, "Terms", class.get("Terms"));
    }
    // Customer.Email and MainContact.Email are the same database field.
    let contact_email = record
        .get("MainContact")
        .and_then(|c| c.get("Email"))
        .cloned();
    match (record.get("Email").cloned(), contact_email) {
        (Some(e), None) => {
            let contact = record
                .as_object_mut()
                .expect("object")
                .entry("MainContact")
                .or_insert_with(|| Value::Object(Map::new()));
            set(contact, "Email", e);
        }
        (_, Some(e)) => set(record, "Email", e),
        _ => {}
    }
    set(record, "LastModifiedDateTime", Value::String(now_text()));
}

fn stock_item(
    state: &mut State,
    record: &mut Value,
    created: bool,
    errors: &mut BTreeMap<String, String>,
) {
    if created && text(record, "InventoryID").is_none() {
        errors.insert(
            "InventoryID".into(),
            "'Inventory ID' cannot be empty.".into(),
        );
    }
    let class = must_exist(
        state,
        record,
        "ItemClass",
        "ItemClass",
        "ClassID",
        "Item Class",
        errors,
    );
    if created && let Some(class) = class {
        set_default(record, "ItemType", class.get("ItemType"));
        set_default(record, "PostingClass", class.get("PostingClass"));
        set_default(record, "TaxCategory", class.get("TaxCategoryID"));
        set_default(
            record,
            "DefaultWarehouseID",
            class.get("DefaultWarehouseID"),
        );
        set_default(record, "BaseUOM", class.get("BaseUOM"));
        set_default(record, "SalesUOM", class.get("SalesUOM"));
        set_default(record, "PurchaseUOM", class.get("BaseUOM"));
    }
    if created {
        set_default(record, "ItemStatus", Some(&Value::from("Active")));
        set_default(record, "DefaultPrice", Some(&money(Decimal::ZERO)));
        set_default(record, "BaseUOM", Some(&Value::from("EA")));
        set_default(record, "SalesUOM", Some(&Value::from("EA")));
    }
    must_exist(
        state,
        record,
        "TaxCategory",
        "TaxCategory",
        "TaxCategoryID",
        "Tax Category",
        errors,
    );
    must_exist(
        state,
        record,
        "DefaultWarehouseID",
        "Warehouse",
        "WarehouseID",
        "Default Warehouse",
        errors,
    );
    if let Some(posting) = text(record, "PostingClass") {
        let known = state
            .records
            .get("ItemClass")
            .into_iter()
            .flatten()
            .any(|c| text(c, "PostingClass").is_some_and(|p| p.eq_ignore_ascii_case(posting)));
        if !known {
            errors.insert(
                "PostingClass".into(),
                "'Posting Class' cannot be found in the system.".into(),
            );
        }
    }
    set(record, "LastModifiedDateTime", Value::String(now_text()));
}

const ORDER_TYPES: &[&str] = &["SO", "QT", "IN", "CS", "RM"];

fn sales_order(
    state: &mut State,
    record: &mut Value,
    input: &Map<String, Value>,
    created: bool,
    touched: &BTreeSet<String>,
    errors: &mut BTreeMap<String, String>,
) {
    let order_type = text(record, "OrderType")
        .unwrap_or("SO")
        .to_ascii_uppercase();
    if !ORDER_TYPES.contains(&order_type.as_str()) {
        errors.insert(
            "OrderType".into(),
            "'Order Type' cannot be found in the system.".into(),
        );
    }
    let sent_nbr = text(record, "OrderNbr")
        .filter(|n| *n != "<NEW>")
        .map(str::to_owned);
    let auto_numbered = !(state.faults.manual_order_numbers && sent_nbr.is_some());
    if created {
        let nbr = match sent_nbr.filter(|_| !auto_numbered) {
            Some(n) => n,
            None => format!("{:06}", state.next_order_nbr),
        };
        set(record, "OrderNbr", Value::String(nbr));
        let hold = input.get("Hold") != Some(&Value::Bool(false));
        set(record, "Hold", Value::Bool(hold));
        set_default(
            record,
            "Date",
            Some(&Value::String(
                chrono::Utc::now()
                    .format("%Y-%m-%dT00:00:00+00:00")
                    .to_string(),
            )),
        );
    }
    let hold = record.get("Hold") == Some(&Value::Bool(true));
    let status = text(record, "Status").unwrap_or("On Hold");
    if created || matches!(status, "On Hold" | "Open") {
        set(
            record,
            "Status",
            Value::from(if hold { "On Hold" } else { "Open" }),
        );
    }
    match text(record, "CustomerID") {
        None => {
            errors.insert("CustomerID".into(), "'Customer' cannot be empty.".into());
        }
        Some(_) => {
            if let Some(customer) = must_exist(
                state,
                record,
                "CustomerID",
                "Customer",
                "CustomerID",
                "Customer",
                errors,
            ) {
                set_default(record, "CurrencyID", customer.get("CurrencyID"));
            }
        }
    }
    set_default(record, "CurrencyID", Some(&Value::from("USD")));

    // Lines: defaults and repricing for the lines this request touched, amounts for all.
    let mut rows = record
        .get("Details")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut next_line = rows
        .iter()
        .filter_map(|r| r.get("LineNbr").and_then(Value::as_i64))
        .max()
        .unwrap_or(0);
    let (mut line_total, mut ordered_qty) = (Decimal::ZERO, Decimal::ZERO);
    for (i, row) in rows.iter_mut().enumerate() {
        let id = row
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if touched.contains(&id) {
            let at = |f: &str| format!("Details/{i}/{f}");
            let item = match text(row, "InventoryID") {
                None => {
                    errors.insert(at("InventoryID"), "'Inventory ID' cannot be empty.".into());
                    None
                }
                Some(inv) => match find(state, "StockItem", "InventoryID", inv) {
                    Some(item) => Some(item.clone()),
                    None => {
                        errors.insert(
                            at("InventoryID"),
                            "'Inventory ID' cannot be found in the system.".into(),
                        );
                        None
                    }
                },
            };
            if let Some(item) = &item {
                set_default(row, "UOM", item.get("SalesUOM"));
                set_default(row, "WarehouseID", item.get("DefaultWarehouseID"));
                set_default(row, "TaxCategory", item.get("TaxCategory"));
                set_default(row, "LineDescription", item.get("Description"));
                if row.get("ManualPrice") != Some(&Value::Bool(true)) {
                    let price = dec(item, "DefaultPrice").unwrap_or_default();
                    set(row, "UnitPrice", money(price));
                    set(row, "ManualPrice", Value::Bool(false));
                }
            }
            if let Some(wh) = text(row, "WarehouseID")
                && find(state, "Warehouse", "WarehouseID", wh).is_none()
            {
                errors.insert(
                    at("WarehouseID"),
                    "'Warehouse' cannot be found in the system.".into(),
                );
            }
            if row.get("LineNbr").and_then(Value::as_i64).is_none() {
                next_line += 1;
                set(row, "LineNbr", Value::from(next_line));
            }
        }
        let qty = dec(row, "OrderQty").unwrap_or_default();
        let price = dec(row, "UnitPrice").unwrap_or_default();
        let extended =
            (qty * price).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        // The discount is DiscountPercent of the extended price, unless ManualDiscount fixes
        // the DiscountAmount.
        let manual = row.get("ManualDiscount") == Some(&Value::Bool(true));
        let discount = match (dec(row, "DiscountPercent"), dec(row, "DiscountAmount")) {
            (_, Some(amount)) if manual => amount,
            (Some(pct), _) => extended * pct / Decimal::ONE_HUNDRED,
            (None, Some(amount)) => amount,
            (None, None) => Decimal::ZERO,
        }
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        let percent = if extended.is_zero() {
            Decimal::ZERO
        } else {
            (discount * Decimal::ONE_HUNDRED / extended).round_dp(6)
        };
        let amount = extended - discount;
        set(row, "OrderQty", quantity(qty));
        set(row, "UnitPrice", money(price));
        set(row, "ExtendedPrice", money(extended));
        set(row, "DiscountAmount", money(discount));
        set(row, "DiscountPercent", quantity(percent));
        set(row, "Amount", money(amount));
        line_total += amount;
        ordered_qty += qty;
    }
    if record.get("Details").is_some() || created {
        set(record, "Details", Value::Array(rows));
    }

    // Freight: the price set on the order's shipping settings (or totals), when overridden.
    let shipping = record
        .get("ShippingSettings")
        .cloned()
        .unwrap_or(Value::Null);
    let totals_in = record.get("Totals").cloned().unwrap_or(Value::Null);
    let freight = if shipping.get("OverrideFreightPrice") == Some(&Value::Bool(true)) {
        dec(&shipping, "FreightPrice").unwrap_or_default()
    } else if totals_in.get("OverrideFreightAmount") == Some(&Value::Bool(true)) {
        dec(&totals_in, "Freight").unwrap_or_default()
    } else {
        Decimal::ZERO
    };
    let freight = freight.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    let tax = Decimal::ZERO;
    let order_total = line_total + freight + tax;
    let mut totals = match totals_in {
        Value::Object(m) => Value::Object(m),
        _ => Value::Object(Map::new()),
    };
    set(&mut totals, "LineTotalAmount", money(line_total));
    set(&mut totals, "DiscountTotal", money(Decimal::ZERO));
    set(&mut totals, "Freight", money(freight));
    set(&mut totals, "TaxTotal", money(tax));
    set(&mut totals, "UnpaidBalance", money(order_total));
    set(record, "Totals", totals);
    let mut shipping = match shipping {
        Value::Object(m) => Value::Object(m),
        _ => Value::Object(Map::new()),
    };
    set(&mut shipping, "FreightPrice", money(freight));
    set(record, "ShippingSettings", shipping);
    set(record, "OrderedQty", quantity(ordered_qty));
    set(record, "TaxTotal", money(tax));
    set(record, "OrderTotal", money(order_total));
    set(record, "LastModified", Value::String(now_text()));
    if created && errors.is_empty() && auto_numbered {
        state.next_order_nbr += 1;
    }
}

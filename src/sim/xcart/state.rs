//! The X-Cart simulator's memory: orders, the API tokens, request counters and faults. One
//! `Mutex<State>` guards it; handlers never hold the lock across an await.

use std::time::{Duration, Instant};

use chrono::Utc;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Faults and options, set at start and changeable at run time (`PUT /_sim/faults`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Delay before every API request is handled.
    pub latency_ms: u64,
    /// Share (0.0–1.0) of API requests answered 500.
    pub rate_500: f64,
    /// The next this many API requests are answered 500 (then it counts down to 0).
    pub fail_next: u64,
    /// Whether `lastRenewDate[...]` filters work (X-Cart 5.5.1 and later). When false the
    /// store behaves like 5.5.0: those filters are silently ignored (sorting still works).
    pub last_renew_filters: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency_ms: 0,
            rate_500: 0.0,
            fail_next: 0,
            last_renew_filters: true,
        }
    }
}

/// One API request as it arrived.
#[derive(Debug, Clone, Serialize)]
pub struct Arrival {
    /// Milliseconds since the simulator started (or its counters were reset).
    pub at_ms: f64,
    pub method: String,
    /// `orders`, `order`, `payment_status` or `other`.
    pub target: String,
    /// The query string, as sent.
    pub query: String,
    /// The status answered.
    pub status: u16,
}

/// Request counters (`RunningSim::counters`, `GET /_sim/counters`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counters {
    pub total: u64,
    /// Requests answered 401 or 403.
    pub refused: u64,
    pub arrivals: Vec<Arrival>,
}

impl Counters {
    /// How many `method target` requests arrived (`count("GET", "orders")`).
    pub fn count(&self, method: &str, target: &str) -> usize {
        self.arrivals
            .iter()
            .filter(|a| a.method == method && a.target == target)
            .count()
    }
}

/// An order line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimItem {
    pub sku: String,
    pub name: String,
    pub price: Decimal,
    pub amount: i64,
}

/// An order-level surcharge (`kind`: shipping, tax, discount, handling; discounts negative).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimSurcharge {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    pub value: Decimal,
    #[serde(default)]
    pub include: bool,
}

/// An address in X-Cart's `ProfileAddressOutput` form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SimAddress {
    pub firstname: String,
    pub lastname: String,
    pub phone: String,
    pub street: String,
    pub zipcode: String,
    pub city: String,
    pub country_code: String,
    pub state_name: String,
}

impl Default for SimAddress {
    fn default() -> Self {
        SimAddress {
            firstname: "Jane".into(),
            lastname: "Doe".into(),
            phone: "+1 217 555 0100".into(),
            street: "1 Main St".into(),
            zipcode: "62701".into(),
            city: "Springfield".into(),
            country_code: "US".into(),
            state_name: "Illinois".into(),
        }
    }
}

/// A stored order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimOrder {
    pub id: i64,
    pub order_number: String,
    /// When it was placed (`date`), unix seconds.
    pub date: i64,
    /// When it last changed (`lastRenewDate`), unix seconds.
    pub last_renew_date: i64,
    pub email: String,
    pub customer_id: Option<i64>,
    pub order_profile_id: i64,
    pub currency: String,
    pub payment_code: String,
    /// The payment method's name (`payment_method_name`), when one was given.
    #[serde(default)]
    pub payment_method_name: Option<String>,
    pub shipping_code: String,
    pub billing_address: Option<SimAddress>,
    pub shipping_address: Option<SimAddress>,
    pub items: Vec<SimItem>,
    pub surcharges: Vec<SimSurcharge>,
    /// Tracking numbers written to the order, oldest first.
    #[serde(default)]
    pub tracking_numbers: Vec<SimTracking>,
}

/// A tracking number on an order (`tracking_numbers[] {id, date, value}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimTracking {
    pub id: i64,
    /// When it was added, unix seconds.
    pub date: i64,
    pub value: String,
}

/// Shipping status codes a write may set (the notes' §3 table, system-set ones left out).
pub const SHIPPING_CODES: &[&str] = &["N", "P", "S", "D", "WND", "R"];

/// What `add_order` takes; every field has a default (an order of one AALEGO500 at 30.00 with
/// 5.00 shipping, awaiting payment, placed now).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NewSimOrder {
    /// Default: the order id.
    pub order_number: Option<String>,
    /// Unix seconds; default: now.
    pub date: Option<i64>,
    pub email: Option<String>,
    /// The customer account's profile id; `None` with `guest`.
    pub customer_id: Option<i64>,
    pub guest: bool,
    pub currency: Option<String>,
    /// Payment status code; default `Q`.
    pub payment_code: Option<String>,
    /// The payment method's name (`payment_method_name`); default none.
    pub payment_method_name: Option<String>,
    pub billing_address: Option<SimAddress>,
    pub shipping_address: Option<SimAddress>,
    pub items: Option<Vec<SimItem>>,
    pub surcharges: Option<Vec<SimSurcharge>>,
}

fn money(d: Decimal) -> Value {
    // X-Cart (PHP) writes money as JSON numbers.
    serde_json::Number::from_f64(d.to_f64().unwrap_or_default())
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn php_date(secs: i64) -> String {
    chrono::DateTime::<Utc>::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%z")
        .to_string()
}

fn status(code: &str, payment: bool) -> Value {
    let (id, name) = if payment {
        match code {
            "Q" => (1, "Awaiting payment"),
            "A" => (2, "Authorized"),
            "PP" => (3, "Partially paid"),
            "P" => (4, "Paid"),
            "D" => (5, "Declined"),
            "C" => (6, "Cancelled"),
            "R" => (7, "Refunded"),
            _ => (99, "Custom"),
        }
    } else {
        match code {
            "N" => (1, "New"),
            "P" => (2, "Processing"),
            "S" => (3, "Shipped"),
            "D" => (4, "Delivered"),
            "WND" => (5, "Will not deliver"),
            "R" => (6, "Returned"),
            _ => (99, "Custom"),
        }
    };
    json!({"id": id, "code": code, "name": name, "customer_name": name})
}

impl SimTracking {
    pub fn output(&self) -> Value {
        json!({"id": self.id, "date": php_date(self.date), "value": self.value})
    }
}

impl SimOrder {
    pub fn sub_total(&self) -> Decimal {
        self.items
            .iter()
            .map(|i| i.price.saturating_mul(Decimal::from(i.amount)))
            .fold(Decimal::ZERO, Decimal::saturating_add)
    }

    /// `sub_total` plus every surcharge not included in the prices.
    pub fn total(&self) -> Decimal {
        // Saturating: tests place orders with absurd amounts on purpose.
        self.surcharges
            .iter()
            .filter(|s| !s.include)
            .map(|s| s.value)
            .fold(self.sub_total(), Decimal::saturating_add)
            .round_dp(2)
    }

    fn address(&self, a: &Option<SimAddress>, id: i64, billing: bool) -> Value {
        match a {
            None => Value::Null,
            Some(a) => json!({
                "id": id, "is_billing": billing, "is_shipping": !billing, "is_work": false, "type": "R",
                "title": "", "firstname": a.firstname, "lastname": a.lastname, "phone": a.phone,
                "street": a.street, "zipcode": a.zipcode, "city": a.city, "country_code": a.country_code,
                "state": 562, "state_name": a.state_name, "custom_fields": [],
            }),
        }
    }

    /// The order as `GET /api/orders` shows it (`OrderOutput`).
    pub fn output(&self) -> Value {
        let update = php_date(self.last_renew_date);
        let items: Vec<Value> = self
            .items
            .iter()
            .enumerate()
            .map(|(n, i)| {
                json!({
                    "id": self.id * 100 + n as i64, "product_id": 40 + n as i64, "sku": i.sku,
                    "update_date": update, "name": i.name, "price": money(i.price),
                    "item_net_price": money(i.price),
                    "discounted_subtotal": money(i.price.saturating_mul(Decimal::from(i.amount))),
                    "amount": i.amount, "backordered_amount": 0, "surcharges": [],
                })
            })
            .collect();
        let surcharges: Vec<Value> = self
            .surcharges
            .iter()
            .enumerate()
            .map(|(n, s)| {
                let code = s
                    .code
                    .clone()
                    .unwrap_or_else(|| s.kind.to_ascii_uppercase());
                json!({
                    "id": self.id * 100 + n as i64, "type": s.kind, "code": code,
                    "class": format!("XLite\\Logic\\Order\\Modifier\\{}", s.kind),
                    "include": s.include, "available": true, "value": money(s.value),
                    "name": s.name.clone().unwrap_or_else(|| s.kind.clone()), "weight": 0,
                })
            })
            .collect();
        json!({
            "order_number": self.order_number,
            "id": self.id,
            "total": money(self.total()),
            "sub_total": money(self.sub_total()),
            "email": self.email,
            "items": items,
            "billing_address": self.address(&self.billing_address, self.id * 10, true),
            "shipping_address": self.address(&self.shipping_address, self.id * 10 + 1, false),
            "create_date": php_date(self.date),
            "update_date": update,
            "payment_status": status(&self.payment_code, true),
            "shipping_status": status(&self.shipping_code, false),
            "customer_id": self.customer_id,
            "order_profile_id": self.order_profile_id,
            "shipping_id": 90,
            "shipping_method_name": "Courier",
            "payment_method_name": self.payment_method_name,
            "notes": "",
            "admin_notes": "",
            "currency": self.currency,
            "stock_status": "",
            "surcharges": surcharges,
            "tracking_numbers": self.tracking_numbers.iter().map(SimTracking::output).collect::<Vec<_>>(),
        })
    }
}

#[derive(Debug)]
pub struct State {
    pub faults: Faults,
    pub counters: Counters,
    pub counters_since: Instant,
    pub orders: Vec<SimOrder>,
    pub next_id: i64,
    /// The read-only token and the read/write token; `None` once revoked.
    pub read_token: Option<String>,
    pub write_token: Option<String>,
}

/// Unix seconds now.
pub fn now() -> i64 {
    Utc::now().timestamp()
}

impl State {
    pub fn new(faults: Faults, read_token: &str, write_token: &str) -> State {
        State {
            faults,
            counters: Counters::default(),
            counters_since: Instant::now(),
            orders: vec![],
            next_id: 1,
            read_token: Some(read_token.to_owned()),
            write_token: Some(write_token.to_owned()),
        }
    }

    pub fn arrive(&mut self, method: &str, target: &str, query: &str, status: u16) {
        let at_ms = self.counters_since.elapsed().as_secs_f64() * 1000.0;
        self.counters.total += 1;
        if status == 401 || status == 403 {
            self.counters.refused += 1;
        }
        self.counters.arrivals.push(Arrival {
            at_ms,
            method: method.to_owned(),
            target: target.to_owned(),
            query: query.to_owned(),
            status,
        });
    }

    pub fn reset_counters(&mut self) {
        self.counters = Counters::default();
        self.counters_since = Instant::now();
    }

    /// Places an order; returns it.
    pub fn add_order(&mut self, new: NewSimOrder) -> Result<SimOrder, String> {
        let id = self.next_id;
        let number = new.order_number.unwrap_or_else(|| id.to_string());
        if self.orders.iter().any(|o| o.order_number == number) {
            return Err(format!("order number {number} exists already"));
        }
        self.next_id += 1;
        let date = new.date.unwrap_or_else(now);
        let items = new.items.unwrap_or_else(|| {
            vec![SimItem {
                sku: "AALEGO500".into(),
                name: "Lego 500 piece set".into(),
                price: Decimal::new(3000, 2),
                amount: 1,
            }]
        });
        if items.is_empty() {
            return Err("an order needs at least one item".into());
        }
        let order = SimOrder {
            id,
            order_number: number,
            date,
            // Saved now: its lastRenewDate is now (or its date, when placed "in the future").
            last_renew_date: date.max(now()),
            email: new
                .email
                .unwrap_or_else(|| format!("buyer{id}@example.com")),
            customer_id: if new.guest {
                None
            } else {
                Some(new.customer_id.unwrap_or(1000 + id))
            },
            order_profile_id: 5000 + id,
            currency: new.currency.unwrap_or_else(|| "USD".into()),
            payment_code: new.payment_code.unwrap_or_else(|| "Q".into()),
            payment_method_name: new.payment_method_name.clone(),
            shipping_code: "N".into(),
            billing_address: Some(new.billing_address.unwrap_or_default()),
            shipping_address: Some(new.shipping_address.unwrap_or_default()),
            items,
            surcharges: new.surcharges.unwrap_or_else(|| {
                vec![SimSurcharge {
                    kind: "shipping".into(),
                    code: Some("SHIPPING".into()),
                    name: Some("Shipping cost".into()),
                    value: Decimal::new(500, 2),
                    include: false,
                }]
            }),
            tracking_numbers: Vec::new(),
        };
        self.orders.push(order.clone());
        Ok(order)
    }

    pub fn find_mut(&mut self, key: &str) -> Option<&mut SimOrder> {
        self.orders
            .iter_mut()
            .find(|o| o.order_number == key || o.id.to_string() == key)
    }

    /// Sets the payment status of the order with this number (or id) and bumps its
    /// `lastRenewDate` to now (never backwards).
    pub fn set_payment_status(&mut self, key: &str, code: &str) -> Result<SimOrder, String> {
        let o = self
            .find_mut(key)
            .ok_or_else(|| format!("no order {key}"))?;
        o.payment_code = code.trim().to_ascii_uppercase();
        o.last_renew_date = o.last_renew_date.max(now());
        Ok(o.clone())
    }

    /// Sets the shipping status (one of [`SHIPPING_CODES`]) and bumps `lastRenewDate`.
    pub fn set_shipping_status(&mut self, key: &str, code: &str) -> Result<SimOrder, String> {
        let code = code.trim().to_ascii_uppercase();
        if !SHIPPING_CODES.contains(&code.as_str()) {
            return Err(format!(
                "code: The shipping status \"{code}\" does not exist."
            ));
        }
        let o = self
            .find_mut(key)
            .ok_or_else(|| format!("no order {key}"))?;
        o.shipping_code = code;
        o.last_renew_date = o.last_renew_date.max(now());
        Ok(o.clone())
    }

    /// Adds a tracking number to the order (a blank one is refused) and bumps `lastRenewDate`.
    pub fn add_tracking_number(&mut self, key: &str, value: &str) -> Result<SimTracking, String> {
        let value = value.trim();
        if value.is_empty() {
            return Err("value: This value should not be blank.".into());
        }
        let o = self
            .find_mut(key)
            .ok_or_else(|| format!("no order {key}"))?;
        let id = o.id * 1000 + o.tracking_numbers.len() as i64 + 1;
        let t = SimTracking {
            id,
            date: now(),
            value: value.to_string(),
        };
        o.tracking_numbers.push(t.clone());
        o.last_renew_date = o.last_renew_date.max(now());
        Ok(t)
    }

    /// How long to wait before answering, and whether to fail this request with a 500.
    pub fn fault_roll(&mut self) -> (Duration, bool) {
        let latency = Duration::from_millis(self.faults.latency_ms);
        if self.faults.fail_next > 0 {
            self.faults.fail_next -= 1;
            return (latency, true);
        }
        let fail = self.faults.rate_500 > 0.0
            && rand::Rng::gen_range(&mut rand::thread_rng(), 0.0..1.0) < self.faults.rate_500;
        (latency, fail)
    }
}

//! The simulator's memory: records per entity, issued tokens, request counters and the faults
//! in force. One `Mutex<State>` guards it; handlers never hold the lock across an await.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Faults and options, set at start and changeable at run time (`PUT /_sim/faults`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Delay before every API request is handled.
    pub latency_ms: u64,
    /// Share (0.0–1.0) of API requests answered 429.
    pub rate_429: f64,
    /// Share (0.0–1.0) of API requests answered 500 (a generic, transient server error).
    pub rate_500: f64,
    /// `Retry-After` seconds sent with the 429s (none when unset, as documented by Acumatica).
    pub retry_after_secs: Option<u64>,
    /// Lifetime of new access tokens.
    pub token_lifetime_secs: u64,
    /// "Commit then stall": a PUT is saved, then answered only after this delay.
    pub stall_writes_ms: Option<u64>,
    /// "Hold then commit": a PUT is saved only after this delay (and saved even when the
    /// client hung up meanwhile), then answered.
    pub delay_commit_ms: Option<u64>,
    /// Lists ignore `$skip` (every page is the first one).
    pub ignore_skip: bool,
    /// Lists end with this many spaces after the JSON (an oversized answer).
    pub pad_lists_bytes: u64,
    /// "Commit then fail": the next this many saved PUTs are answered with a plain 500.
    pub commit_then_500: u32,
    /// "Commit then stall" for good: a PUT is saved and never answered.
    pub stall_writes_forever: bool,
    /// Share (0.0–1.0) of saved PUTs that stall as set above (1.0: every one).
    pub stall_rate: f64,
    /// Keep the OrderNbr a new Sales Order is sent with (order types numbered manually);
    /// otherwise the sent number is ignored and the next auto-number given.
    pub manual_order_numbers: bool,
    /// The token endpoint answers with the "API Login Limit" redirect (302 to an error page).
    pub login_limit: bool,
    /// Refuse this entity with 403, as when its feature is switched off.
    pub forbidden_entity: Option<String>,
    /// Give a new customer the next auto-number even when the PUT names a CustomerID.
    pub renumber_customer_ids: bool,
    /// Customers are numbered manually: a new one without CustomerID is refused (422).
    pub manual_customer_ids: bool,
    /// The next this many actions that run answer 202 (a long-running operation) with a
    /// `Location` status URL, which answers 202 once, then 204.
    pub accept_actions: u32,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency_ms: 0,
            rate_429: 0.0,
            rate_500: 0.0,
            retry_after_secs: None,
            token_lifetime_secs: 3600,
            stall_writes_ms: None,
            delay_commit_ms: None,
            commit_then_500: 0,
            ignore_skip: false,
            pad_lists_bytes: 0,
            stall_writes_forever: false,
            stall_rate: 1.0,
            manual_order_numbers: false,
            login_limit: false,
            forbidden_entity: None,
            renumber_customer_ids: false,
            manual_customer_ids: false,
            accept_actions: 0,
        }
    }
}

/// One API request as it arrived.
#[derive(Debug, Clone, Serialize)]
pub struct Arrival {
    /// Milliseconds since the simulator started (or its counters were reset).
    pub at_ms: f64,
    pub method: String,
    /// `token`, `logout`, `revocation`, `endpoints`, an entity name, or `other`.
    pub target: String,
    /// The path and query as sent (decoded).
    pub uri: String,
    /// Sent with `If-None-Match: *` (insert only).
    pub if_none_match: bool,
}

/// Request counters, readable by tests (`RunningSim::counters`, `GET /_sim/counters`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counters {
    pub total: u64,
    /// By `"<METHOD> <target>"`, e.g. `"PUT SalesOrder"` or `"POST token"`.
    pub by_request: BTreeMap<String, u64>,
    /// Every arrival, in order, with its time.
    pub arrivals: Vec<Arrival>,
    /// The most API requests ever in flight at once.
    pub max_in_flight: u64,
}

impl Counters {
    /// How many `"<METHOD> <target>"` requests arrived.
    pub fn count(&self, key: &str) -> u64 {
        self.by_request.get(key).copied().unwrap_or(0)
    }

    /// The most arrivals within any window of `window` (for checking a rate limit).
    pub fn max_in_window(&self, window: Duration) -> usize {
        let w = window.as_secs_f64() * 1000.0;
        let times: Vec<f64> = self.arrivals.iter().map(|a| a.at_ms).collect();
        let mut best = 0;
        let mut start = 0;
        for end in 0..times.len() {
            while times[end] - times[start] >= w {
                start += 1;
            }
            best = best.max(end - start + 1);
        }
        best
    }
}

/// An issued access token.
#[derive(Debug, Clone)]
pub struct Access {
    pub expires_at: Instant,
}

#[derive(Debug)]
pub struct State {
    pub faults: Faults,
    pub counters: Counters,
    pub counters_since: Instant,
    pub in_flight: u64,
    /// Entity name → records in insertion order, in plain form (no `{"value":…}` wrappers;
    /// decimals as strings holding their exact digits).
    pub records: BTreeMap<String, Vec<Value>>,
    pub access: HashMap<String, Access>,
    /// Valid refresh tokens (each is used once: refreshing rotates it).
    pub refresh: HashMap<String, ()>,
    pub next_order_nbr: u64,
    pub next_customer_nbr: u64,
    pub next_row_id: u64,
    /// Long-running actions answered 202: status id → polls still answered 202.
    pub running_actions: HashMap<String, u32>,
}

impl State {
    pub fn new(faults: Faults) -> State {
        State {
            faults,
            counters: Counters::default(),
            counters_since: Instant::now(),
            in_flight: 0,
            records: BTreeMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            next_order_nbr: 1,
            next_customer_nbr: 1,
            next_row_id: 1,
            running_actions: HashMap::new(),
        }
    }

    /// Counts an arriving request and marks it in flight.
    pub fn arrive(&mut self, method: &str, target: &str, uri: String, if_none_match: bool) {
        let at_ms = self.counters_since.elapsed().as_secs_f64() * 1000.0;
        let c = &mut self.counters;
        c.total += 1;
        *c.by_request
            .entry(format!("{method} {target}"))
            .or_default() += 1;
        c.arrivals.push(Arrival {
            at_ms,
            method: method.to_string(),
            target: target.to_string(),
            uri,
            if_none_match,
        });
        self.in_flight += 1;
        c.max_in_flight = c.max_in_flight.max(self.in_flight);
    }

    pub fn reset_counters(&mut self) {
        self.counters = Counters::default();
        self.counters_since = Instant::now();
    }

    /// A new GUID-shaped record id (deterministic, so runs are reproducible).
    pub fn new_id(&mut self) -> String {
        let n = self.next_row_id;
        self.next_row_id += 1;
        format!("00000000-0000-4000-8000-{n:012x}")
    }
}

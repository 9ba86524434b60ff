//! The client against the in-process simulator: sign-in, token refresh and rotation, retries,
//! error classification, the limiter, reads and writes.

use std::time::Duration;

use acumatica_bridge::acumatica::*;
use acumatica_bridge::sim::acumatica::{RunningSim, SimConfig, Simulator};
use rust_decimal::Decimal;

async fn sim() -> RunningSim {
    sim_with(SimConfig::default()).await
}

async fn sim_with(config: SimConfig) -> RunningSim {
    Simulator::start(config)
        .await
        .expect("the simulator starts")
}

fn client(sim: &RunningSim) -> Client {
    Client::new(sim.client_config()).expect("valid settings")
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[tokio::test]
async fn signs_in_and_checks_the_endpoint() {
    let sim = sim().await;
    let c = client(&sim);
    let tokens = c.sign_in().await.unwrap();
    assert!(
        tokens.refresh_token.is_some(),
        "offline_access gives a refresh token"
    );
    let endpoints = c.check_endpoint().await.unwrap();
    assert_eq!(endpoints.endpoints.len(), 4);

    let mut config = sim.client_config();
    config.endpoint_version = "22.200.001".into();
    let err = Client::new(config)
        .unwrap()
        .check_endpoint()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Permanent {
                reason: PermanentReason::EndpointMissing,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("Default 24.200.001")
            && err.to_string().contains("eCommerce 23.200.001"),
        "{err}"
    );
}

#[tokio::test]
async fn bad_credentials_are_permanent_with_a_human_message() {
    let sim = sim().await;
    let mut config = sim.client_config();
    config.password = Secret::new("wrong-password");
    let err = Client::new(config).unwrap().sign_in().await.unwrap_err();
    assert!(
        err.is_permanent() && err.to_string().contains("wrong username or password"),
        "{err}"
    );
    assert!(!err.to_string().contains("wrong-password"));

    let mut config = sim.client_config();
    config.client_secret = Secret::new("nope");
    let err = Client::new(config).unwrap().sign_in().await.unwrap_err();
    assert!(
        err.is_permanent() && err.to_string().contains("wrong client ID or client secret"),
        "{err}"
    );
}

#[tokio::test]
async fn secrets_stay_out_of_debug_output() {
    let sim = sim().await;
    let c = client(&sim);
    let tokens = c.sign_in().await.unwrap();
    let shown = format!("{:?} {:?} {:?}", sim.client_config(), tokens, c);
    for secret in [
        "demo-password",
        "demo-secret",
        tokens.access_token.expose(),
        tokens.refresh_token.as_ref().unwrap().expose(),
    ] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[tokio::test]
async fn tenant_of_url_and_client_id_must_agree() {
    let sim = sim().await;
    let mut config = sim.client_config();
    config.client_id = "bridge-demo@OtherCo".into();
    let err = Client::new(config).unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    assert!(
        err.to_string().contains("\"Company\"") && err.to_string().contains("\"OtherCo\""),
        "{err}"
    );
    let mut config = sim.client_config();
    config.base_url = "http://erp.example.com".into();
    assert!(
        Client::new(config)
            .unwrap_err()
            .to_string()
            .contains("https")
    );
}

#[tokio::test]
async fn refreshes_before_expiry_and_keeps_the_newest_refresh_token() {
    let sim = sim_with(SimConfig {
        faults: acumatica_bridge::sim::acumatica::Faults {
            token_lifetime_secs: 2,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let c = client(&sim);
    let mut watch = c.watch_tokens();
    let first = c.sign_in().await.unwrap();
    assert!(watch.has_changed().unwrap());
    watch.borrow_and_update();
    // The margin is a quarter of the lifetime: after 1.6 s of 2 s the token is due.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let _: Vec<TaxCategory> = c.list(&Query::new()).await.unwrap();
    let counters = sim.counters();
    assert_eq!(counters.count("POST token"), 2, "{counters:?}");
    assert_eq!(
        counters.count("GET TaxCategory"),
        1,
        "refreshed before use, so no 401 and no retry"
    );
    assert!(
        watch.has_changed().unwrap(),
        "the owner hears about the new tokens"
    );
    let newest = c.tokens().unwrap();
    assert_ne!(
        newest.refresh_token, first.refresh_token,
        "the refresh token rotates"
    );
    // The old refresh token no longer works; the newest does.
    sim.expire_access_tokens();
    let _: Vec<TaxCategory> = c.list(&Query::new()).await.unwrap();
    assert_eq!(sim.counters().count("POST token"), 3);
}

#[tokio::test]
async fn refreshes_once_and_retries_once_after_a_401() {
    let sim = sim().await;
    let c = client(&sim);
    c.sign_in().await.unwrap();
    sim.expire_access_tokens();
    let cats: Vec<TaxCategory> = c.list(&Query::new()).await.unwrap();
    assert_eq!(cats.len(), 2);
    let counters = sim.counters();
    assert_eq!(counters.count("GET TaxCategory"), 2);
    assert_eq!(counters.count("POST token"), 2);
}

#[tokio::test]
async fn a_revoked_refresh_token_ends_the_session_without_reusing_the_password() {
    let sim = sim().await;
    let c = client(&sim);
    c.sign_in().await.unwrap();
    sim.expire_access_tokens();
    sim.revoke_refresh_tokens();
    let err = c.list::<Warehouse>(&Query::new()).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Permanent {
                reason: PermanentReason::SessionEnded,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("Connect again"), "{err}");
    // The password grant, then the refused refresh: no second password grant.
    assert_eq!(sim.counters().count("POST token"), 2);
}

#[tokio::test]
async fn restored_tokens_are_used_without_signing_in() {
    let sim = sim().await;
    let tokens = client(&sim).sign_in().await.unwrap();
    let c = client(&sim);
    c.restore_tokens(tokens).await;
    sim.reset_counters();
    let _: Vec<Warehouse> = c.list(&Query::new()).await.unwrap();
    assert_eq!(sim.counters().count("POST token"), 0);
}

#[tokio::test]
async fn sign_out_ends_the_session_and_forgets_tokens() {
    let sim = sim().await;
    let c = client(&sim);
    let mut watch = c.watch_tokens();
    let tokens = c.sign_in().await.unwrap();
    c.sign_out().await.unwrap();
    assert!(c.tokens().is_none());
    assert!(watch.borrow_and_update().is_none());
    assert_eq!(sim.counters().count("POST logout"), 1);
    assert_eq!(sim.counters().count("POST revocation"), 1);
    let refresh = tokens.refresh_token.as_ref().unwrap().expose().to_owned();
    assert!(
        !sim.live_tokens().contains(&refresh),
        "the refresh token is revoked"
    );
    // The old access token is dead on the server too.
    let other = client(&sim);
    let mut dead = tokens.clone();
    dead.refresh_token = None;
    other.restore_tokens(dead).await;
    let _: Vec<Warehouse> = other.list(&Query::new()).await.unwrap();
    assert_eq!(
        sim.counters().count("GET Warehouse"),
        2,
        "401, then a new sign-in and a retry"
    );
}

#[tokio::test]
async fn falls_back_to_the_site_root_when_the_tenant_form_is_not_served() {
    let sim = sim_with(SimConfig {
        tenant_paths: false,
        ..Default::default()
    })
    .await;
    let c = client(&sim);
    assert!(c.base_url().tenant().is_some());
    c.sign_in().await.unwrap();
    assert_eq!(c.base_url().as_str(), sim.root_url());
    let _: Vec<Warehouse> = c.list(&Query::new()).await.unwrap();
    let counters = sim.counters();
    assert_eq!(
        counters.count("POST token"),
        2,
        "one 404 under /t/, one at the root"
    );
    assert_eq!(counters.count("GET Warehouse"), 1);
}

#[tokio::test]
async fn falls_back_to_the_site_root_after_a_redirect_or_an_html_page_too() {
    use acumatica_bridge::sim::acumatica::NotServed;
    for how in [NotServed::Redirect, NotServed::HtmlPage] {
        let sim = sim_with(SimConfig {
            tenant_paths: false,
            not_served: how,
            ..Default::default()
        })
        .await;
        let c = client(&sim);
        c.sign_in().await.unwrap();
        assert_eq!(c.base_url().as_str(), sim.root_url(), "{how:?}");
        assert_eq!(c.configured_base_url().as_str(), sim.base_url(), "{how:?}");
        c.refresh().await.unwrap();
        let _: Vec<Warehouse> = c.list(&Query::new()).await.unwrap();
        assert_eq!(
            sim.counters().count("POST token"),
            3,
            "{how:?}: the fallback is remembered"
        );
    }
}

#[tokio::test]
async fn a_server_that_ignores_skip_or_answers_too_much_is_an_error_not_a_hang() {
    let sim = sim().await;
    let c = client(&sim);
    c.sign_in().await.unwrap();
    sim.update_faults(|f| f.ignore_skip = true);
    let err = c.list_all::<StockItem>(&Query::new(), 2).await.unwrap_err();
    assert!(
        err.is_permanent() && err.to_string().contains("ignores $skip"),
        "{err}"
    );
    assert_eq!(sim.counters().count("GET StockItem"), 2);

    sim.update_faults(|f| {
        f.ignore_skip = false;
        f.pad_lists_bytes = (MAX_ANSWER_BYTES + 1) as u64;
    });
    let err = c.list::<StockItem>(&Query::new()).await.unwrap_err();
    assert!(
        err.is_permanent() && err.to_string().contains("too large"),
        "{err}"
    );
    sim.update_faults(|f| f.pad_lists_bytes = 1 << 20);
    assert_eq!(
        c.list::<StockItem>(&Query::new()).await.unwrap().len(),
        5,
        "below the limit"
    );
}

#[tokio::test]
async fn a_retry_after_of_ages_is_capped_and_left_to_the_job_layer() {
    let sim = sim().await;
    let c = client(&sim);
    c.sign_in().await.unwrap();
    sim.update_faults(|f| {
        f.rate_429 = 1.0;
        f.retry_after_secs = Some(u64::MAX);
    });
    sim.reset_counters();
    let err = c.list::<Warehouse>(&Query::new()).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(sim.counters().total, 1, "not waited out in the request");
}

#[tokio::test]
async fn errors_are_classified_for_the_job_layer() {
    let sim = sim().await;
    let c = client(&sim);
    c.sign_in().await.unwrap();

    let err = c
        .get::<Customer>(&["NOSUCHONE"], &Query::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");

    let err = c
        .list::<Customer>(&Query::new().select(&["NoSuchField"]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Permanent {
                reason: PermanentReason::UnknownField,
                ..
            }
        ),
        "{err:?}"
    );

    sim.update_faults(|f| f.forbidden_entity = Some("ItemClass".into()));
    let err = c.list::<ItemClass>(&Query::new()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Permanent {
                reason: PermanentReason::Forbidden,
                status: Some(403),
                ..
            }
        ),
        "{err:?}"
    );

    sim.update_faults(|f| f.rate_500 = 1.0);
    let err = c.list::<Warehouse>(&Query::new()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transient {
                reason: TransientReason::Server,
                ..
            }
        ),
        "{err:?}"
    );
    let err = c
        .put(
            &Warehouse {
                warehouse_id: Some("X".into()),
                ..Default::default()
            },
            PutMode::Upsert,
            &Query::new(),
        )
        .await
        .unwrap_err();
    assert!(
        err.is_transient() && err.is_ambiguous(),
        "a 500 may come after the save: {err:?}"
    );
    sim.update_faults(|f| f.rate_500 = 0.0);

    sim.update_faults(|f| f.login_limit = true);
    let err = c.sign_in().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transient {
                reason: TransientReason::LoginLimit,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn unreachable_is_told_apart_and_is_not_ambiguous() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut config = ClientConfig::new(
        format!("http://127.0.0.1:{port}/t/Company"),
        "id@Company",
        "s",
        "u",
        "p",
    );
    config.timeout = Duration::from_secs(1);
    let c = Client::new(config).unwrap();
    let err = c.sign_in().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err:?}");
    assert!(!err.is_ambiguous());
}

#[tokio::test]
async fn a_tls_failure_is_unreachable() {
    // https to a server that speaks plain http: the TLS handshake fails.
    let sim = sim().await;
    let mut config = sim.client_config();
    config.base_url = sim.base_url().replace("http://", "https://");
    let err = Client::new(config).unwrap().sign_in().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err:?}");
    assert_eq!(sim.counters().total, 0, "nothing reached the server's API");
}

#[tokio::test]
async fn backs_off_after_429_and_honours_retry_after() {
    let sim = sim().await;
    let c = client(&sim); // 50 ms backoff, doubled, 2 retries
    c.sign_in().await.unwrap();
    sim.reset_counters();
    sim.update_faults(|f| f.rate_429 = 1.0);
    let err = c.list::<Warehouse>(&Query::new()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transient {
                reason: TransientReason::RateLimited,
                ..
            }
        ),
        "{err:?}"
    );
    let times: Vec<f64> = sim.counters().arrivals.iter().map(|a| a.at_ms).collect();
    assert_eq!(times.len(), 3, "first try and two retries");
    assert!(
        times[1] - times[0] >= 45.0 && times[2] - times[1] >= 95.0,
        "{times:?}"
    );

    let mut config = sim.client_config();
    config.rate_limit_retries = 1;
    let c = Client::new(config).unwrap();
    sim.update_faults(|f| f.rate_429 = 0.0);
    c.sign_in().await.unwrap();
    sim.update_faults(|f| {
        f.rate_429 = 1.0;
        f.retry_after_secs = Some(1);
    });
    sim.reset_counters();
    let err = c.list::<Warehouse>(&Query::new()).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    let times: Vec<f64> = sim.counters().arrivals.iter().map(|a| a.at_ms).collect();
    assert_eq!(times.len(), 2);
    assert!(
        times[1] - times[0] >= 990.0,
        "Retry-After: 1 was honoured: {times:?}"
    );
}

#[tokio::test]
async fn the_limiter_never_exceeds_its_rate_or_concurrency() {
    let sim = sim_with(SimConfig {
        faults: acumatica_bridge::sim::acumatica::Faults {
            latency_ms: 30,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let mut config = sim.client_config();
    config.max_rpm = 600; // one request every 100 ms
    config.max_concurrency = 2;
    let c = Client::new(config).unwrap();
    c.sign_in().await.unwrap();
    sim.reset_counters();
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.list::<TaxCategory>(&Query::new()).await.map(|v| v.len()) })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 2);
    }
    let counters = sim.counters();
    assert_eq!(counters.count("GET TaxCategory"), 12);
    // 600 a minute is 10 a second; allow one for network jitter at the window's edges.
    let most = counters.max_in_window(Duration::from_secs(1));
    assert!(
        most <= 11,
        "{most} requests within one second: {:?}",
        counters.arrivals
    );
    assert!(counters.max_in_window(Duration::from_millis(300)) <= 4);
    assert!(counters.max_in_flight <= 2);

    // Concurrency: with a fast rate and slow answers, two at a time at most.
    let mut config = sim.client_config();
    config.max_concurrency = 2;
    let c = Client::new(config).unwrap();
    c.sign_in().await.unwrap();
    sim.update_faults(|f| f.latency_ms = 100);
    sim.reset_counters();
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.list::<Warehouse>(&Query::new()).await.is_ok() })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap());
    }
    assert_eq!(sim.counters().max_in_flight, 2);
}

#[tokio::test]
async fn field_errors_of_a_422_are_surfaced_by_field_name() {
    let sim = sim().await;
    let c = client(&sim);
    let order = SalesOrder {
        customer_id: Some("NOBODY".into()),
        details: Some(vec![
            SalesOrderDetail {
                inventory_id: Some("AALEGO500".into()),
                order_qty: Some(d("1")),
                ..Default::default()
            },
            SalesOrderDetail {
                inventory_id: Some("NOSUCHITEM".into()),
                order_qty: Some(d("1")),
                ..Default::default()
            },
        ]),
        ..Default::default()
    };
    let err = c
        .put(&order, PutMode::Insert, &Query::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Permanent {
                reason: PermanentReason::Invalid,
                status: Some(422),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_ambiguous());
    let by_field: Vec<(&str, &str)> = err
        .field_errors()
        .iter()
        .map(|f| (f.field.as_str(), f.message.as_str()))
        .collect();
    assert!(
        by_field.contains(&("CustomerID", "'Customer' cannot be found in the system.")),
        "{by_field:?}"
    );
    assert!(
        by_field.iter().any(|(f, _)| *f == "Details/1/InventoryID"),
        "{by_field:?}"
    );
    assert!(
        !by_field.iter().any(|(f, _)| f.starts_with("Details/0")),
        "{by_field:?}"
    );
    assert!(sim.sales_orders().is_empty(), "nothing was saved");
}

#[tokio::test]
async fn conditional_puts_tell_exists_from_missing() {
    let sim = sim().await;
    let c = client(&sim);
    let customer = Customer {
        customer_id: Some("WEB000042".into()),
        customer_name: Some("Ann O'Neil".into()),
        customer_class: Some("ECOMMERCE".into()),
        main_contact: Some(Contact {
            email: Some("ann.o'neil@example.com".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let saved = c
        .put(
            &customer,
            PutMode::Insert,
            &Query::new().expand(&["MainContact"]),
        )
        .await
        .unwrap();
    assert_eq!(saved.customer_id.as_deref(), Some("WEB000042"));
    assert_eq!(saved.status.as_deref(), Some("Active"));
    let err = c
        .put(&customer, PutMode::Insert, &Query::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err:?}");
    let ghost = Customer {
        customer_id: Some("GHOST".into()),
        customer_name: Some("G".into()),
        ..Default::default()
    };
    let err = c
        .put(&ghost, PutMode::Update, &Query::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");
    // Found by e-mail (a quote in the value is escaped, not pasted).
    let found: Vec<Customer> = c
        .list(
            &Query::new()
                .filter(Filter::eq("MainContact/Email", "ANN.O'NEIL@example.com"))
                .expand(&["MainContact"]),
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].main_contact.as_ref().unwrap().email.as_deref(),
        Some("ann.o'neil@example.com")
    );
}

#[tokio::test]
async fn sales_orders_are_priced_in_decimals_and_lines_without_id_are_appended() {
    let sim = sim().await;
    let c = client(&sim);
    let order = SalesOrder {
        order_type: Some("SO".into()),
        customer_id: Some("WEBJANEDOE".into()),
        customer_order: Some("WEB-100045".into()),
        ship_to_address_override: Some(true),
        ship_to_address: Some(Address {
            city: Some("Kirkland".into()),
            country: Some("US".into()),
            ..Default::default()
        }),
        shipping_settings: Some(ShippingSettings {
            override_freight_price: Some(true),
            freight_price: Some(d("7.95")),
            ..Default::default()
        }),
        details: Some(vec![
            // No ManualPrice: repriced from the item (30.00), whatever was sent.
            SalesOrderDetail {
                inventory_id: Some("AALEGO500".into()),
                order_qty: Some(d("3")),
                unit_price: Some(d("1.00")),
                ..Default::default()
            },
            SalesOrderDetail {
                inventory_id: Some("TSHIRT-M".into()),
                order_qty: Some(d("3")),
                unit_price: Some(d("0.10")),
                manual_price: Some(true),
                discount_percent: Some(d("10")),
                ..Default::default()
            },
        ]),
        ..Default::default()
    };
    let q = Query::new().expand(&["Details", "Totals", "ShipToAddress"]);
    let saved = c.put(&order, PutMode::Insert, &q).await.unwrap();
    assert_eq!(saved.status.as_deref(), Some("On Hold"));
    assert_eq!(saved.hold, Some(true));
    let nbr = saved.order_nbr.clone().unwrap();
    let lines = saved.details.clone().unwrap();
    assert_eq!(lines[0].unit_price, Some(d("30.0000")));
    assert_eq!(lines[0].amount.unwrap().to_string(), "90.0000");
    // 3 × 0.10 = 0.30, less 10 % = 0.27: exact in decimals (0.1 has no exact float).
    assert_eq!(lines[1].amount.unwrap().to_string(), "0.2700");
    assert_eq!(saved.order_total.unwrap().to_string(), "98.2200");
    assert_eq!(saved.totals.as_ref().unwrap().freight, Some(d("7.95")));
    assert_eq!(
        saved.ship_to_address.unwrap().city.as_deref(),
        Some("Kirkland")
    );

    // Re-sending the same lines (no ids) duplicates them, as Acumatica does.
    let again = SalesOrder {
        order_type: Some("SO".into()),
        order_nbr: Some(nbr.clone()),
        details: order.details.clone(),
        hold: Some(false),
        ..Default::default()
    };
    let updated = c.put(&again, PutMode::Update, &q).await.unwrap();
    assert_eq!(updated.details.unwrap().len(), 4);
    assert_eq!(updated.status.as_deref(), Some("Open"));
    assert_eq!(sim.sales_orders().len(), 1);

    let fetched: SalesOrder = c.get(&["SO", &nbr], &Query::new()).await.unwrap();
    assert_eq!(fetched.customer_order.as_deref(), Some("WEB-100045"));
    assert!(fetched.details.is_none(), "details only come with $expand");
    let by_id: SalesOrder = c
        .get_by_id(fetched.id.as_deref().unwrap(), &Query::new())
        .await
        .unwrap();
    assert_eq!(by_id.order_nbr, Some(nbr));
    let found: Vec<SalesOrder> = c
        .list(
            &Query::new()
                .filter(
                    Filter::eq("OrderType", "SO").and(Filter::eq("CustomerOrder", "WEB-100045")),
                )
                .select(&["OrderType", "OrderNbr", "Status"])
                .top(2),
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert!(
        found[0].customer_order.is_none(),
        "$select keeps only what was asked"
    );
}

#[tokio::test]
async fn an_order_sent_with_hold_false_starts_open() {
    let sim = sim().await;
    let c = client(&sim);
    let order = SalesOrder {
        customer_id: Some("ABARTENDE".into()),
        hold: Some(false),
        details: Some(vec![SalesOrderDetail {
            inventory_id: Some("APJAM08".into()),
            order_qty: Some(d("2")),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let saved = c.put(&order, PutMode::Insert, &Query::new()).await.unwrap();
    assert_eq!(saved.status.as_deref(), Some("Open"));
    assert_eq!(saved.order_total, Some(d("8.50")));
}

#[tokio::test]
async fn a_write_that_commits_then_stalls_is_ambiguous() {
    let sim = sim().await;
    let c = client(&sim); // 1 s timeout
    c.sign_in().await.unwrap();
    sim.update_faults(|f| f.stall_writes_forever = true);
    let order = SalesOrder {
        customer_id: Some("ABARTENDE".into()),
        customer_order: Some("WEB-7".into()),
        details: Some(vec![SalesOrderDetail {
            inventory_id: Some("AALEGO500".into()),
            order_qty: Some(d("1")),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let err = c
        .put(&order, PutMode::Insert, &Query::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transient {
                reason: TransientReason::Timeout,
                ambiguous: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        sim.sales_orders().len(),
        1,
        "the write was committed before the stall"
    );
    // A read that times out is not "ambiguous".
    sim.update_faults(|f| {
        f.stall_writes_forever = false;
        f.latency_ms = 1500;
    });
    let err = c.list::<Warehouse>(&Query::new()).await.unwrap_err();
    assert!(err.is_transient() && !err.is_ambiguous(), "{err:?}");
}

#[tokio::test]
async fn pages_through_a_list() {
    let sim = sim().await;
    let c = client(&sim);
    let all: Vec<StockItem> = c.list_all(&Query::new(), 2).await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(
        sim.counters().count("GET StockItem"),
        3,
        "pages of 2, 2 and 1"
    );
    let jam = all
        .iter()
        .find(|i| i.inventory_id.as_deref() == Some("APJAM08"))
        .unwrap();
    assert_eq!(jam.default_price.unwrap().to_string(), "4.2500");
    let classes: Vec<ItemClass> = c.list(&Query::new()).await.unwrap();
    assert!(classes.iter().all(|c| c.posting_class.is_some()));
    let taxable: Vec<TaxCategory> = c
        .list(&Query::new().filter(
            Filter::eq("TaxCategoryID", "TAXABLE").or(Filter::eq("TaxCategoryID", "EXEMPT")),
        ))
        .await
        .unwrap();
    assert_eq!(taxable.len(), 2);
    let subs: Vec<Subaccount> = c
        .list(&Query::new().select(&["SubaccountCD", "Description", "Active"]))
        .await
        .unwrap();
    assert!(subs.len() >= 2 && subs.iter().all(|s| s.subaccount_id.is_none()));
    let err = c
        .get::<Customer>(&["A/B"], &Query::new())
        .await
        .unwrap_err();
    assert!(err.is_permanent());
}

#[tokio::test]
async fn renumbered_customer_ids_come_back_in_the_answer() {
    let sim = sim().await;
    sim.update_faults(|f| f.renumber_customer_ids = true);
    let c = client(&sim);
    let saved = c
        .put(
            &Customer {
                customer_id: Some("123".into()),
                customer_name: Some("Web shopper".into()),
                ..Default::default()
            },
            PutMode::Insert,
            &Query::new(),
        )
        .await
        .unwrap();
    let id = saved.customer_id.unwrap();
    assert_ne!(id, "123");
    assert!(id.starts_with('C'), "{id}");
}

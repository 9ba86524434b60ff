//! Recording, updating and paging through orders, and the errors of bad order input.

use serde_json::{Value, json};

use crate::common::{RECORD_ORDER, Service, order_input};

const LIST: &str = r#"query($first: Int, $after: String, $filter: OrderFilter) {
  orders(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { number placedAt email paymentStatus sync { status } } }
  }
}"#;

#[tokio::test]
async fn record_then_update_keeps_payment_history() {
    let s = Service::start().await;
    let created = s
        .data(
            RECORD_ORDER,
            json!({"input": order_input("1001", "QUEUED")}),
        )
        .await;
    let o = &created["recordOrder"];
    assert_eq!(o["number"], "1001");
    assert_eq!(o["placedAt"], "2026-01-31T11:00:00Z", "output is UTC");
    assert_eq!(o["total"], "526.00", "scale is kept");
    assert_eq!(o["items"][0]["price"], "10.25");
    assert_eq!(o["sync"]["status"], "NOT_SYNCED");
    assert_eq!(o["paymentStatusHistory"].as_array().unwrap().len(), 1);

    let again = s
        .data(
            RECORD_ORDER,
            json!({"input": order_input("1001", "QUEUED")}),
        )
        .await;
    assert_eq!(
        again["recordOrder"]["paymentStatusHistory"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let paid = s
        .data(RECORD_ORDER, json!({"input": order_input("1001", "PAID")}))
        .await;
    let history = paid["recordOrder"]["paymentStatusHistory"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        history
            .iter()
            .map(|h| h["status"].clone())
            .collect::<Vec<_>>(),
        vec![json!("QUEUED"), json!("PAID")]
    );

    let read = s.data(r#"{ order(number: "1001") { paymentStatus } missing: order(number: "nope") { number } }"#, json!({})).await;
    assert_eq!(read["order"]["paymentStatus"], "PAID");
    assert_eq!(read["missing"], Value::Null);
    let all = s.data(LIST, json!({})).await;
    assert_eq!(
        all["orders"]["totalCount"], 1,
        "an update does not add an order"
    );
}

#[tokio::test]
async fn pages_newest_first_with_filters() {
    let s = Service::start().await;
    for i in 0..7 {
        let mut input = order_input(&format!("A{i}"), if i % 2 == 0 { "PAID" } else { "QUEUED" });
        input["placedAt"] = json!(format!("2026-02-0{}T10:00:00Z", i + 1));
        input["email"] = json!(if i == 3 {
            "special@Example.org"
        } else {
            "buyer@example.com"
        });
        s.data(RECORD_ORDER, json!({"input": input})).await;
    }
    let mut seen = vec![];
    let mut after = Value::Null;
    loop {
        let page = s.data(LIST, json!({"first": 3, "after": after})).await;
        let conn = &page["orders"];
        assert_eq!(conn["totalCount"], 7);
        for e in conn["edges"].as_array().unwrap() {
            seen.push(e["node"]["number"].as_str().unwrap().to_owned());
        }
        if !conn["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, ["A6", "A5", "A4", "A3", "A2", "A1", "A0"]);

    let paid = s
        .data(LIST, json!({"filter": {"paymentStatus": "PAID"}}))
        .await;
    assert_eq!(paid["orders"]["totalCount"], 4);
    let search = s
        .data(LIST, json!({"filter": {"search": "SPECIAL@example"}}))
        .await;
    assert_eq!(search["orders"]["edges"][0]["node"]["number"], "A3");
    assert_eq!(search["orders"]["totalCount"], 1);
    let by_number = s.data(LIST, json!({"filter": {"search": "a5"}})).await;
    assert_eq!(by_number["orders"]["totalCount"], 1);
    let not_synced = s
        .data(LIST, json!({"filter": {"syncStatus": "NOT_SYNCED"}}))
        .await;
    // Automatic mode (the default) queued a sync for each of the 4 PAID orders.
    assert_eq!(not_synced["orders"]["totalCount"], 3);
    let queued = s
        .data(
            LIST,
            json!({"filter": {"syncStatus": "QUEUED", "paymentStatus": "PAID"}}),
        )
        .await;
    assert_eq!(queued["orders"]["totalCount"], 4);
    let synced = s
        .data(LIST, json!({"filter": {"syncStatus": "SYNCED"}}))
        .await;
    assert_eq!(synced["orders"]["totalCount"], 0);

    let too_many = s.gql(LIST, json!({"first": 501})).await;
    assert_eq!(too_many["errors"][0]["extensions"]["code"], "BAD_INPUT");
    assert_eq!(too_many["errors"][0]["extensions"]["field"], "first");
    let bad_cursor = s.gql(LIST, json!({"after": "!!"})).await;
    assert_eq!(bad_cursor["errors"][0]["extensions"]["field"], "after");
}

/// Each bad input: the error names the field, its code is BAD_INPUT, and nothing is stored.
#[tokio::test]
async fn bad_input_is_refused_with_the_field_named_and_nothing_stored() {
    let s = Service::start().await;
    type Change = fn(&mut Value);
    let cases: Vec<(Change, &str)> = vec![
        (|o| o["number"] = json!("  "), "input.number"),
        (|o| o["items"][0]["sku"] = json!(""), "input.items.0.sku"),
        (
            |o| o["items"][1]["quantity"] = json!(0),
            "input.items.1.quantity",
        ),
        (
            |o| o["items"][0]["price"] = json!("-1.00"),
            "input.items.0.price",
        ),
        (
            |o| o["items"][0]["price"] = json!("10.12345"),
            "input.items.0.price",
        ),
        (
            |o| o["items"][0]["price"] = json!(10.25),
            "input.items.0.price",
        ),
        (|o| o["total"] = json!("abc"), "input.total"),
        (|o| o["total"] = json!("527.00"), "input.total"),
        (|o| o["currency"] = json!("DOLLARS"), "input.currency"),
        (
            |o| o["billingAddress"]["country"] = json!("XX"),
            "input.billingAddress.country",
        ),
        (
            |o| o["shippingAddress"]["country"] = json!("USA"),
            "input.shippingAddress.country",
        ),
        (|o| o["placedAt"] = json!("31/01/2026"), "input.placedAt"),
        (|o| o["email"] = json!("not-an-email"), "input.email"),
        (|o| o["items"] = json!([]), "input.items"),
        (|o| o["shippingCost"] = json!("-5"), "input.shippingCost"),
        // Beyond the bounds: this one used to overflow and drop the connection.
        (
            |o| o["items"][0]["price"] = json!("79228162514264337593543950335"),
            "input.items.0.price",
        ),
        (
            |o| o["items"][0]["quantity"] = json!(1_000_000_001),
            "input.items.0.quantity",
        ),
        (
            |o| {
                o["items"][1]["price"] = json!("1000000000000");
                o["items"][1]["quantity"] = json!(2);
            },
            "input.items.1.quantity",
        ),
        (
            |o| o["discountTotal"] = json!("1000000000001"),
            "input.discountTotal",
        ),
        // Bidirectional controls and zero-width characters in keys.
        (|o| o["number"] = json!("BAD\u{202E}1"), "input.number"),
        (|o| o["number"] = json!("BAD\u{2066}1"), "input.number"),
        (
            |o| o["items"][0]["sku"] = json!("AALEGO\u{200B}500"),
            "input.items.0.sku",
        ),
        (
            |o| o["items"][0]["sku"] = json!("\u{FEFF}AALEGO500"),
            "input.items.0.sku",
        ),
    ];
    for (change, field) in cases {
        let mut input = order_input("BAD-1", "PAID");
        change(&mut input);
        let body = s.gql(RECORD_ORDER, json!({"input": input})).await;
        let err = &body["errors"][0];
        assert_eq!(err["extensions"]["code"], "BAD_INPUT", "{field}: {body}");
        assert_eq!(err["extensions"]["field"], field, "{body}");
        assert!(err["message"].as_str().unwrap().contains(field), "{body}");
    }
    // A GraphQL-level type error (a string where an Int belongs) is BAD_INPUT too.
    let mut input = order_input("BAD-1", "PAID");
    input["items"][0]["quantity"] = json!("two");
    let body = s.gql(RECORD_ORDER, json!({"input": input})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_INPUT",
        "{body}"
    );

    let list = s.data(LIST, json!({})).await;
    assert_eq!(list["orders"]["totalCount"], 0, "nothing was stored");
}

#[tokio::test]
async fn a_bad_update_leaves_the_order_as_it_was() {
    let s = Service::start().await;
    s.data(
        RECORD_ORDER,
        json!({"input": order_input("2001", "QUEUED")}),
    )
    .await;
    let mut input = order_input("2001", "PAID");
    input["total"] = json!("1.00");
    let body = s.gql(RECORD_ORDER, json!({"input": input})).await;
    assert_eq!(body["errors"][0]["extensions"]["field"], "input.total");
    let read = s
        .data(
            r#"{ order(number: "2001") { paymentStatus total } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        read["order"],
        json!({"paymentStatus": "QUEUED", "total": "526.00"})
    );
}

#[tokio::test]
async fn subscribers_see_order_changes() {
    let s = Service::start().await;
    let mut ws = s.ws(Some(&s.token)).await;
    assert_eq!(ws.next().await["type"], "connection_ack");
    ws.subscribe(
        "1",
        r#"subscription { orderUpdates(number: "3001") { number paymentStatus } }"#,
        json!({}),
    )
    .await;
    // Give the subscription a moment to register before the first change.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    s.data(RECORD_ORDER, json!({"input": order_input("3000", "PAID")}))
        .await;
    s.data(
        RECORD_ORDER,
        json!({"input": order_input("3001", "QUEUED")}),
    )
    .await;
    s.data(RECORD_ORDER, json!({"input": order_input("3001", "PAID")}))
        .await;
    let first = ws.next().await;
    assert_eq!(
        first["payload"]["data"]["orderUpdates"],
        json!({"number": "3001", "paymentStatus": "QUEUED"}),
        "{first}"
    );
    let second = ws.next().await;
    assert_eq!(
        second["payload"]["data"]["orderUpdates"]["paymentStatus"],
        "PAID"
    );
}

/// totalCount for a filter, and the count of what paging through the list shows.
async fn counted(s: &Service, filter: Value) -> (i64, usize) {
    let d = s
        .data(
            "query($f: OrderFilter) { orders(first: 500, filter: $f) { totalCount edges { node { number } } } }",
            json!({"f": filter}),
        )
        .await;
    (
        d["orders"]["totalCount"].as_i64().unwrap(),
        d["orders"]["edges"].as_array().unwrap().len(),
    )
}

async fn assert_counts(s: &Service) {
    let mut filters = vec![json!({})];
    for p in ["QUEUED", "PAID", "DECLINED"] {
        filters.push(json!({"paymentStatus": p}));
        filters.push(json!({"paymentStatus": p, "syncStatus": "NOT_SYNCED"}));
    }
    filters.push(json!({"syncStatus": "NOT_SYNCED"}));
    filters.push(json!({"search": "c-1"}));
    for f in filters {
        let (total, shown) = counted(s, f.clone()).await;
        assert_eq!(total as usize, shown, "{f}");
    }
}

#[tokio::test]
async fn counts_follow_every_change_and_survive_an_old_store() {
    let s = Service::start().await;
    for (i, payment) in ["QUEUED", "PAID", "QUEUED", "DECLINED", "QUEUED"]
        .iter()
        .enumerate()
    {
        let mut input = order_input(&format!("C-{i}"), payment);
        input["email"] = json!(format!("c{i}@example.com"));
        s.data(RECORD_ORDER, json!({"input": input})).await;
    }
    // Payment changes move orders between counts; recording an order again changes none.
    for (n, payment) in [("C-0", "PAID"), ("C-3", "QUEUED"), ("C-3", "QUEUED")] {
        let mut input = order_input(n, payment);
        input["email"] = json!(format!("c{}@example.com", &n[2..]));
        s.data(RECORD_ORDER, json!({"input": input})).await;
    }
    assert_counts(&s).await;
    assert_eq!(counted(&s, json!({"paymentStatus": "PAID"})).await.0, 2);
    assert_eq!(counted(&s, json!({"paymentStatus": "QUEUED"})).await.0, 3);
    assert_eq!(counted(&s, json!({})).await.0, 5);

    // A store written before counts were kept is counted once at start.
    let data = s.stop();
    {
        let db = data.open_store();
        assert!(
            db.drop_tree("order_counts").unwrap(),
            "the counts tree exists"
        );
        db.flush().unwrap();
    }
    let s = Service::start_with(data, crate::common::Options::default()).await;
    assert_counts(&s).await;
    assert_eq!(counted(&s, json!({"paymentStatus": "PAID"})).await.0, 2);
}

/// The numbers a search finds, newest first, paging 2 at a time; checks totalCount on every page.
async fn searched(s: &Service, filter: Value) -> Vec<String> {
    let mut seen = vec![];
    let mut after = Value::Null;
    loop {
        let d = s
            .data(
                "query($f: OrderFilter, $a: String) { orders(first: 2, after: $a, filter: $f) { totalCount pageInfo { hasNextPage endCursor } edges { node { number } } } }",
                json!({"f": filter, "a": after}),
            )
            .await;
        let conn = &d["orders"];
        for e in conn["edges"].as_array().unwrap() {
            seen.push(e["node"]["number"].as_str().unwrap().to_owned());
        }
        if !conn["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            assert_eq!(
                conn["totalCount"].as_u64().unwrap() as usize,
                seen.len(),
                "{filter}"
            );
            return seen;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
}

/// What the search test expects of its four orders.
async fn check_search(s: &Service) {
    // Newest first, whichever term found the order.
    assert_eq!(
        searched(s, json!({"search": "73"})).await,
        ["000732", "000731"]
    );
    assert_eq!(
        searched(s, json!({"search": "00073"})).await,
        ["000732", "000731"]
    );
    assert_eq!(searched(s, json!({"search": "s-73"})).await, ["S-7310"]);
    assert_eq!(
        searched(s, json!({"search": " ANN.LEE@"})).await,
        ["000732", "000731"]
    );
    assert_eq!(
        searched(s, json!({"search": "shop.ex"})).await,
        ["000740", "000732", "000731"]
    );
    assert_eq!(
        searched(s, json!({"search": "shop", "paymentStatus": "QUEUED"})).await,
        ["000740", "000732"]
    );
    // Only the start of a term: the middle of an address finds nothing.
    assert!(searched(s, json!({"search": "lee@"})).await.is_empty());
}

#[tokio::test]
async fn search_finds_the_start_of_a_number_email_or_domain_and_survives_an_old_store() {
    let s = Service::start().await;
    let people = [
        ("000731", "Ann.Lee@Shop.example", "PAID"),
        ("000732", "ann.lee@shop.example", "QUEUED"),
        ("S-7310", "bob@mail.example", "PAID"),
        ("000740", "carol@shop.example", "QUEUED"),
    ];
    for (i, (number, email, payment)) in people.iter().enumerate() {
        let mut input = order_input(number, payment);
        input["email"] = json!(email);
        input["placedAt"] = json!(format!("2026-03-0{}T10:00:00Z", i + 1));
        s.data(RECORD_ORDER, json!({"input": input})).await;
    }
    check_search(&s).await;
    // A changed e-mail moves the order's terms: the old address no longer finds it.
    let mut input = order_input("000740", "QUEUED");
    input["email"] = json!("dave@mail.example");
    input["placedAt"] = json!("2026-03-04T10:00:00Z");
    s.data(RECORD_ORDER, json!({"input": input})).await;
    assert_eq!(
        searched(&s, json!({"search": "mail.example"})).await,
        ["000740", "S-7310"]
    );
    input["email"] = json!("carol@shop.example");
    s.data(RECORD_ORDER, json!({"input": input})).await;
    check_search(&s).await;

    // A store without its search index (one written before the terms were kept) is indexed
    // once at start, from the orders.
    let data = s.stop();
    {
        let db = data.open_store();
        assert!(
            db.drop_tree("orders_search").unwrap(),
            "the terms tree exists"
        );
        db.flush().unwrap();
    }
    let s = Service::start_with(data, crate::common::Options::default()).await;
    check_search(&s).await;
}

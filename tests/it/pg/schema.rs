//! `Pg::connect`: the migrations apply on an empty database, a second start changes nothing,
//! and a database migrated by a newer (or another) build is refused with the versions named.

use acumatica_bridge::pg::{MIGRATOR, Pg, PgError, latest_migration};

use super::cluster;

async fn applied(pg: &Pg) -> Vec<(i64, bool)> {
    sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
        .fetch_all(pg.pool())
        .await
        .unwrap()
}

async fn tables(pg: &Pg) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' ORDER BY 1",
    )
    .fetch_all(pg.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn migrations_apply_on_an_empty_database_and_a_second_start_changes_nothing() {
    let url = cluster::database().await;
    let pg = Pg::connect(&url).await.expect("migrates an empty database");
    let want: Vec<(i64, bool)> = MIGRATOR.iter().map(|m| (m.version, true)).collect();
    assert!(want.len() >= 3, "{want:?}");
    assert_eq!(applied(&pg).await, want);
    assert_eq!(pg.schema_version().await.unwrap(), latest_migration());
    let got = tables(&pg).await;
    for t in [
        "_sqlx_migrations",
        "alert_incidents",
        "alert_rules",
        "audit_log",
        "connections",
        "cursors",
        "customer_map",
        "jobs",
        "known_items",
        "lookups",
        "meta",
        "orders",
        "rate_limit_slots",
        "rate_limits",
        "settings",
        "shipments_seen",
    ] {
        assert!(got.iter().any(|g| g == t), "table {t} missing: {got:?}");
    }
    sqlx::query("INSERT INTO settings (key, value) VALUES ('sync', '{\"a\": 1}')")
        .execute(pg.pool())
        .await
        .unwrap();
    pg.pool().close().await;

    let again = Pg::connect(&url).await.expect("a second start");
    assert_eq!(applied(&again).await, want, "nothing applied twice");
    let kept: serde_json::Value =
        sqlx::query_scalar("SELECT value FROM settings WHERE key = 'sync'")
            .fetch_one(again.pool())
            .await
            .unwrap();
    assert_eq!(kept, serde_json::json!({"a": 1}));
}

#[tokio::test]
async fn instances_starting_together_migrate_once() {
    let url = cluster::database().await;
    let starts = (0..4).map(|_| Pg::connect(&url));
    for r in futures::future::join_all(starts).await {
        r.expect("every instance starts");
    }
    let pg = Pg::connect(&url).await.unwrap();
    assert_eq!(applied(&pg).await.len(), MIGRATOR.iter().count());
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_build_is_refused() {
    let url = cluster::database().await;
    let pg = Pg::connect(&url).await.unwrap();
    let future = latest_migration() + 1;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, 'from a newer build', true, '\\x00', 1)",
    )
    .bind(future)
    .execute(pg.pool())
    .await
    .unwrap();
    pg.pool().close().await;
    let err = Pg::connect(&url).await.expect_err("must refuse");
    assert!(matches!(err, PgError::TooNew { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&future.to_string()), "{msg}");
    assert!(msg.contains("newer acumatica-bridge"), "{msg}");
    assert!(
        msg.contains(&format!("up to {}", latest_migration())),
        "{msg}"
    );
}

#[tokio::test]
async fn a_database_with_a_changed_or_unfinished_migration_is_refused() {
    let url = cluster::database().await;
    let pg = Pg::connect(&url).await.unwrap();
    sqlx::query("UPDATE _sqlx_migrations SET checksum = '\\x00' WHERE version = 1")
        .execute(pg.pool())
        .await
        .unwrap();
    let err = Pg::connect(&url).await.expect_err("must refuse");
    assert!(matches!(err, PgError::Modified { version: 1, .. }), "{err}");
    assert!(err.to_string().contains("another build"), "{err}");

    sqlx::query("UPDATE _sqlx_migrations SET success = false WHERE version = 2")
        .execute(pg.pool())
        .await
        .unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 1")
        .execute(pg.pool())
        .await
        .unwrap();
    let err = Pg::connect(&url).await.expect_err("must refuse");
    assert!(matches!(err, PgError::Dirty { version: 2, .. }), "{err}");
}

#[tokio::test]
async fn an_unreachable_database_is_named_without_its_password() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("postgres://bridge:hunter2-secret@127.0.0.1:{port}/nothing");
    let err = Pg::connect_with(
        &url,
        acumatica_bridge::pg::PgOptions {
            max_connections: 1,
            acquire_timeout: std::time::Duration::from_secs(2),
        },
    )
    .await
    .expect_err("nothing listens there");
    let msg = err.to_string();
    assert!(matches!(err, PgError::Connect { .. }), "{msg}");
    assert!(!msg.contains("hunter2-secret"), "{msg}");
    assert!(msg.contains(&format!("127.0.0.1:{port}/nothing")), "{msg}");
}

/// The orders list, its search and its counts are served by indexes, not by scans, and the
/// list's pages in the indexes' order.
#[tokio::test]
async fn order_search_and_listing_use_their_indexes() {
    let url = cluster::database().await;
    let pg = Pg::connect(&url).await.unwrap();
    let mut conn = pg.pool().acquire().await.unwrap();
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    for (query, index) in [
        (
            "SELECT number FROM orders WHERE lower(email) LIKE 'ann%'",
            "orders_email_prefix",
        ),
        (
            "SELECT number FROM orders WHERE search_number LIKE 'x-10%'",
            "orders_number_prefix",
        ),
        (
            "SELECT number FROM orders WHERE ltrim(search_number, '0') LIKE '42%'",
            "orders_number_stripped_prefix",
        ),
        (
            "SELECT number FROM orders \
             WHERE lower(substring(email FROM '@([^@]*)$')) LIKE 'example.%'",
            "orders_email_domain_prefix",
        ),
        (
            "SELECT number FROM orders WHERE error_class = 'DATA' \
             ORDER BY placed_at DESC, number COLLATE \"C\" LIMIT 20",
            "orders_by_class_newest",
        ),
        (
            "SELECT sync_status, payment_status, count(*) FROM orders \
             GROUP BY sync_status, payment_status",
            "orders_by_status",
        ),
        (
            "SELECT number FROM orders ORDER BY placed_at DESC, number COLLATE \"C\" LIMIT 20",
            "orders_newest",
        ),
        (
            "SELECT number FROM orders WHERE sync_status = 'FAILED' \
             ORDER BY placed_at DESC, number COLLATE \"C\" LIMIT 20",
            "orders_by_sync_newest",
        ),
        // A page after a cursor, as `pg::orders` asks for it.
        (
            "SELECT number FROM orders WHERE true AND (placed_at < '2026-02-01' \
             OR (placed_at = '2026-02-01' AND number COLLATE \"C\" > 'M1')) \
             ORDER BY placed_at DESC, number COLLATE \"C\" ASC LIMIT 20",
            "orders_newest",
        ),
    ] {
        let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN {query}")))
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains(index), "{query}:\n{plan}");
        // The list's order is the index's own: no sort step (migration 0004).
        if query.contains("ORDER BY") {
            assert!(!plan.contains("Sort"), "{query}:\n{plan}");
        }
    }
}

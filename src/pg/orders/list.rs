//! Pages of the orders list on PostgreSQL, as `Orders::list` gives them: newest `placed_at`
//! first, ties by number in ascending byte order (`COLLATE "C"`, as the sled list key
//! `orders::index_key` sorts them: the inverted time, then the number's bytes).
//!
//! A cursor is the very cursor sled gives for the same order (URL-safe base64 of that list
//! key), so the two stores' cursors are interchangeable; text that does not decode to one
//! (not base64, too short, no number or one that is not UTF-8: a jobs list cursor is 8 bytes)
//! is [`OrdersError::BadCursor`]. A page is the keyset after the cursor (`placed_at < t OR
//! (placed_at = t AND number > n)`), read with the total count of matches (the cursor aside)
//! in one read-only snapshot.
//!
//! The filters are those of [`OrderFilter`]: sync status, payment status, error class and a
//! search, which finds the orders whose number (with or without its leading zeros), e-mail
//! or e-mail domain starts with the needle, case aside (`orders/search.rs`): the needle is
//! formed by the same function, and matched with `LIKE 'needle%'` over the columns (folded by
//! the bridge) and expressions that the migrations index.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder};

use super::{decode_order, name_of, sql};
use crate::domain::order::Order;
use crate::orders::{OrderFilter, OrdersError, index_key, search};
use crate::paging::{self, Page};

/// The order a cursor stands after: its placement and number.
fn position(cursor: &str) -> Result<(DateTime<Utc>, String), OrdersError> {
    let bad = || OrdersError::BadCursor(cursor.to_owned());
    let key = paging::key_of(cursor).ok_or_else(bad)?;
    let (time, number) = key.split_at_checked(8).ok_or_else(bad)?;
    let inverted = u64::from_be_bytes(time.try_into().map_err(|_| bad())?);
    let micros = ((u64::MAX - inverted) ^ (1 << 63)) as i64;
    let placed = DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
    let number = String::from_utf8(number.to_vec()).map_err(|_| bad())?;
    if number.is_empty() {
        return Err(bad()); // no order has an empty number: a key of another list (a job id)
    }
    Ok((placed, number))
}

/// `s` with LIKE's wildcards and escape character escaped.
fn like_escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// ` AND …` for each filter of `filter`.
fn push_filter(qb: &mut QueryBuilder<Postgres>, filter: &OrderFilter) {
    if let Some(s) = filter.sync_status {
        qb.push(" AND sync_status = ").push_bind(s.as_str());
    }
    if let Some(p) = &filter.payment_status {
        qb.push(" AND payment_status = ").push_bind(name_of(p));
    }
    if let Some(c) = &filter.error_class {
        qb.push(" AND error_class = ").push_bind(name_of(c));
    }
    if let Some(needle) = filter.search.as_deref().and_then(search::needle) {
        let pattern = format!("{}%", like_escaped(&needle));
        qb.push(" AND (search_number LIKE ")
            .push_bind(pattern.clone())
            .push(" OR ltrim(search_number, '0') LIKE ")
            .push_bind(pattern.clone())
            .push(" OR lower(email) LIKE ")
            .push_bind(pattern.clone())
            .push(" OR lower(substring(email FROM '@([^@]*)$')) LIKE ")
            .push_bind(pattern)
            .push(")");
    }
}

pub(super) async fn page(
    pool: &PgPool,
    first: usize,
    after: Option<&str>,
    filter: &OrderFilter,
) -> Result<Page<Order>, OrdersError> {
    let after = after.map(position).transpose()?;
    let mut tx = pool.begin().await.map_err(sql)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await
        .map_err(sql)?;

    let mut qb = QueryBuilder::new("SELECT body::text FROM orders WHERE true");
    push_filter(&mut qb, filter);
    if let Some((placed, number)) = &after {
        qb.push(" AND (placed_at < ")
            .push_bind(*placed)
            .push(" OR (placed_at = ")
            .push_bind(*placed)
            .push(" AND number COLLATE \"C\" > ")
            .push_bind(number.clone())
            .push("))");
    }
    let limit = i64::try_from(first).unwrap_or(i64::MAX - 1) + 1;
    qb.push(" ORDER BY placed_at DESC, number COLLATE \"C\" ASC LIMIT ")
        .push_bind(limit);
    let bodies: Vec<String> = qb
        .build_query_scalar()
        .fetch_all(&mut *tx)
        .await
        .map_err(sql)?;

    let mut qb = QueryBuilder::new("SELECT count(*) FROM orders WHERE true");
    push_filter(&mut qb, filter);
    let total: i64 = qb
        .build_query_scalar()
        .fetch_one(&mut *tx)
        .await
        .map_err(sql)?;
    tx.commit().await.map_err(sql)?;

    let has_next_page = bodies.len() > first;
    let items = bodies
        .iter()
        .take(first)
        .map(|b| {
            let o = decode_order(b)?;
            let cursor = paging::cursor(&index_key(o.data.placed_at, &o.data.number));
            Ok((o, cursor))
        })
        .collect::<Result<Vec<_>, OrdersError>>()?;
    Ok(Page {
        items,
        has_next_page,
        total_count: total as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_the_sled_list_key_and_reads_back() {
        for t in [
            "2026-02-01T10:00:00.123456Z",
            "1969-12-31T23:59:59Z",
            "2100-01-01T00:00:00Z",
        ] {
            let placed: DateTime<Utc> = t.parse().unwrap();
            let cursor = paging::cursor(&index_key(placed, "M00042"));
            assert_eq!(position(&cursor).unwrap(), (placed, "M00042".to_owned()));
        }
        for bad in [
            "!!",
            "AAAA",
            &paging::cursor(&[0xff; 9][..]),
            &paging::cursor(&7u64.to_be_bytes()),
        ] {
            assert!(
                matches!(position(bad), Err(OrdersError::BadCursor(_))),
                "{bad}"
            );
        }
        assert_eq!(like_escaped(r"a_b%c\d"), r"a\_b\%c\\d");
    }
}

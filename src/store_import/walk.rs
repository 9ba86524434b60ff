//! Walking `GET /api/orders` in date order from an inclusive cursor.
//!
//! X-Cart dates are whole seconds and its sort has no tie-break, so the walk re-anchors after
//! every page: the next request asks for `[after]` the newest second seen so far (inclusive),
//! page 1. Orders at that second are read again (recording an unchanged order is a no-op),
//! none sharing it is skipped, and orders deleted or changed meanwhile cannot shift a page
//! boundary over one. Only when a whole page sits on the anchor's second does the walk turn
//! to the next page of the same request.

use crate::xcart::client::{DateField, MAX_PER_PAGE, OrderQuery};
use crate::xcart::model::parse_date;
use crate::xcart::{Client, Error, OrderOutput, OrderPage};

/// The unix second of `field` of an order (`update_date` falls back to `create_date`).
pub fn date_of(o: &OrderOutput, field: DateField) -> Option<i64> {
    let text = match field {
        DateField::Date => Some(o.create_date.as_str()),
        DateField::LastRenewDate => o.update_date.as_deref().or(Some(o.create_date.as_str())),
    }?;
    parse_date(text).ok().map(|t| t.timestamp())
}

/// A walk over the orders with `field` at or after `anchor` (and placed before `end`).
#[derive(Debug, Clone)]
pub struct Walker {
    pub field: DateField,
    anchor: Option<i64>,
    end: Option<i64>,
    page: u32,
    per_page: u32,
    finished: bool,
}

impl Walker {
    pub fn new(field: DateField, anchor: Option<i64>, end: Option<i64>) -> Walker {
        Walker {
            field,
            anchor,
            end,
            page: 1,
            per_page: MAX_PER_PAGE,
            finished: false,
        }
    }

    /// The newest second read so far (or the start): where a later walk may start again.
    pub fn anchor(&self) -> Option<i64> {
        self.anchor
    }

    pub fn query(&self) -> OrderQuery {
        OrderQuery {
            page: self.page,
            per_page: self.per_page,
            sort: Some((self.field, true)),
            after: self.anchor.map(|t| (self.field, t)),
            strictly_before: self.end.map(|t| (DateField::Date, t)),
        }
    }

    /// The next page, or `None` when the walk is over.
    pub async fn next(&mut self, client: &Client) -> Result<Option<OrderPage>, Error> {
        if self.finished {
            return Ok(None);
        }
        let page = client.orders(&self.query()).await?;
        self.advance(&page.orders);
        Ok(Some(page))
    }

    /// Moves on past a page just read.
    pub fn advance(&mut self, orders: &[OrderOutput]) {
        let newest = orders.iter().filter_map(|o| date_of(o, self.field)).max();
        match (newest, self.anchor) {
            (Some(n), Some(a)) if n > a => {
                self.anchor = Some(n);
                self.page = 1;
            }
            (Some(n), None) => {
                self.anchor = Some(n);
                self.page = 1;
            }
            _ => self.page += 1,
        }
        if orders.len() < self.per_page as usize {
            self.finished = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xcart::model::OrderPage;

    fn orders(dates: &[i64]) -> Vec<OrderOutput> {
        let items: Vec<String> = dates
            .iter()
            .enumerate()
            .map(|(i, d)| {
                format!(
                    r#"{{"id":{i},"order_number":"{i}","total":1,"create_date":"{d}","payment_status":null}}"#
                )
            })
            .collect();
        OrderPage::parse(&format!("[{}]", items.join(",")))
            .unwrap()
            .orders
    }

    #[test]
    fn re_anchors_on_the_newest_second_and_pages_only_through_a_full_tie() {
        let mut w = Walker::new(DateField::Date, Some(10), None);
        w.per_page = 3;
        w.advance(&orders(&[10, 11, 12]));
        assert_eq!((w.anchor(), w.query().page), (Some(12), 1));
        // A full page on the anchor's second: the next page of the same request.
        w.advance(&orders(&[12, 12, 12]));
        assert_eq!((w.anchor(), w.query().page), (Some(12), 2));
        assert!(!w.finished);
        w.advance(&orders(&[12, 13]));
        assert_eq!((w.anchor(), w.query().page), (Some(13), 1));
        assert!(w.finished);
        let q = w.query();
        assert_eq!(q.after, Some((DateField::Date, 13)));
        assert_eq!(q.sort, Some((DateField::Date, true)));
    }

    #[test]
    fn an_empty_start_takes_the_first_date() {
        let mut w = Walker::new(DateField::Date, None, Some(99));
        w.advance(&orders(&[5]));
        assert_eq!(w.anchor(), Some(5));
        assert_eq!(w.query().strictly_before, Some((DateField::Date, 99)));
    }
}

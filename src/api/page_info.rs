//! `PageInfo`, the paging part of every list's answer (orders, jobs), from a store page.

use async_graphql::SimpleObject;

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

impl PageInfo {
    pub fn of<T>(page: &crate::paging::Page<T>) -> PageInfo {
        PageInfo {
            has_next_page: page.has_next_page,
            end_cursor: page.end_cursor(),
        }
    }
}

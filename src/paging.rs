//! Cursor paging shared by the lists (orders, jobs): page sizes, opaque cursors (URL-safe
//! base64 of a store key), and one page with the total count of matches.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Default and largest page sizes of list queries.
pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 500;

/// One page of a list: the items with their cursors, whether more follow, and how many items
/// match in all.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<(T, String)>,
    pub has_next_page: bool,
    pub total_count: usize,
}

impl<T> Page<T> {
    pub fn empty() -> Page<T> {
        Page {
            items: vec![],
            has_next_page: false,
            total_count: 0,
        }
    }

    /// The cursor of the last item, to continue after it.
    pub fn end_cursor(&self) -> Option<String> {
        self.items.last().map(|(_, c)| c.clone())
    }
}

/// The cursor of the item stored under `key`.
pub fn cursor(key: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

/// The key a cursor stands for, or `None` for text that is not one of ours.
pub fn key_of(cursor: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(cursor).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        assert_eq!(
            key_of(&cursor(b"\x00\xffabc")).as_deref(),
            Some(&b"\x00\xffabc"[..])
        );
        assert_eq!(key_of("!!"), None);
    }
}

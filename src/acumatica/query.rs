//! The query options of a read: `$filter`, `$select`, `$expand`, `$top`, `$skip`. Built with
//! plain methods and encoded with `%20` for spaces (not `+`).

use super::filter::{Filter, is_field_path};

/// Options of a GET (and of the answer to a PUT: `$select` and `$expand` apply there too).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub filter: Option<Filter>,
    pub select: Vec<&'static str>,
    pub expand: Vec<&'static str>,
    pub top: Option<u32>,
    pub skip: Option<u32>,
}

impl Query {
    pub fn new() -> Query {
        Query::default()
    }

    pub fn filter(mut self, filter: Filter) -> Query {
        self.filter = Some(filter);
        self
    }

    /// Fields to return (paths such as `MainContact/Email` allowed). Panics on a name that is
    /// not a field path: a bug in the calling code.
    pub fn select(mut self, fields: &[&'static str]) -> Query {
        assert!(fields.iter().all(|f| is_field_path(f)), "bad $select");
        self.select.extend_from_slice(fields);
        self
    }

    /// Linked and detail entities to return (`Details`, `MainContact/Address`...).
    pub fn expand(mut self, entities: &[&'static str]) -> Query {
        assert!(entities.iter().all(|f| is_field_path(f)), "bad $expand");
        self.expand.extend_from_slice(entities);
        self
    }

    pub fn top(mut self, n: u32) -> Query {
        self.top = Some(n);
        self
    }

    pub fn skip(mut self, n: u32) -> Query {
        self.skip = Some(n);
        self
    }

    /// The query options as name/value pairs, in a stable order.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(f) = &self.filter {
            out.push(("$filter", f.to_string()));
        }
        if !self.select.is_empty() {
            out.push(("$select", self.select.join(",")));
        }
        if !self.expand.is_empty() {
            out.push(("$expand", self.expand.join(",")));
        }
        if let Some(n) = self.top {
            out.push(("$top", n.to_string()));
        }
        if let Some(n) = self.skip {
            out.push(("$skip", n.to_string()));
        }
        out
    }

    /// The encoded query string (without `?`); empty when there are no options.
    pub fn encode(&self) -> String {
        encode_pairs(&self.pairs())
    }
}

/// Percent-encodes `text` for a query value or a path segment (spaces as `%20`; `/`, `?`,
/// `&`, `+` and `'` encoded too).
pub fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// `name=value&...`, percent-encoded, spaces as `%20`.
pub fn encode_pairs(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_spaces_as_percent_20() {
        let q = Query::new()
            .filter(Filter::eq("CustomerOrder", "A+B & C"))
            .select(&["OrderType", "OrderNbr"])
            .expand(&["Details"])
            .top(2);
        assert_eq!(
            q.encode(),
            "%24filter=CustomerOrder%20eq%20%27A%2BB%20%26%20C%27&%24select=OrderType%2COrderNbr&%24expand=Details&%24top=2"
        );
        let back: Vec<(String, String)> = url::form_urlencoded::parse(q.encode().as_bytes())
            .into_owned()
            .collect();
        assert_eq!(back[0].1, "CustomerOrder eq 'A+B & C'");
    }
}

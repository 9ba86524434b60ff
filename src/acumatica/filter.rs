//! A small typed builder for OData `$filter` expressions. Values are always rendered as
//! literals (strings quoted, with `'` doubled), never pasted in, so data from a store cannot
//! change the expression. Field names are program constants (`&'static str`) such as
//! `CustomerOrder` or `MainContact/Email`.
//!
//! ```
//! use acumatica_bridge::acumatica::Filter;
//! let f = Filter::eq("OrderType", "SO").and(Filter::eq("CustomerOrder", "O'Brien #1"));
//! assert_eq!(f.to_string(), "OrderType eq 'SO' and CustomerOrder eq 'O''Brien #1'");
//! ```

use std::fmt;

use chrono::{DateTime, FixedOffset, SecondsFormat};
use rust_decimal::Decimal;

/// A value in a filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Int(i64),
    Decimal(Decimal),
    Bool(bool),
    DateTime(DateTime<FixedOffset>),
    Null,
}

impl From<&str> for Literal {
    fn from(v: &str) -> Self {
        Literal::Str(v.to_string())
    }
}
impl From<String> for Literal {
    fn from(v: String) -> Self {
        Literal::Str(v)
    }
}
impl From<&String> for Literal {
    fn from(v: &String) -> Self {
        Literal::Str(v.clone())
    }
}
impl From<i64> for Literal {
    fn from(v: i64) -> Self {
        Literal::Int(v)
    }
}
impl From<i32> for Literal {
    fn from(v: i32) -> Self {
        Literal::Int(v.into())
    }
}
impl From<Decimal> for Literal {
    fn from(v: Decimal) -> Self {
        Literal::Decimal(v)
    }
}
impl From<bool> for Literal {
    fn from(v: bool) -> Self {
        Literal::Bool(v)
    }
}
impl From<DateTime<FixedOffset>> for Literal {
    fn from(v: DateTime<FixedOffset>) -> Self {
        Literal::DateTime(v)
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Decimal(d) => write!(f, "{d}"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::DateTime(d) => write!(
                f,
                "datetimeoffset'{}'",
                d.to_rfc3339_opts(SecondsFormat::AutoSi, false)
            ),
            Literal::Null => f.write_str("null"),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Eq => "eq",
            Cmp::Ne => "ne",
            Cmp::Gt => "gt",
            Cmp::Ge => "ge",
            Cmp::Lt => "lt",
            Cmp::Le => "le",
        }
    }
}

/// A `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        field: &'static str,
        op: Cmp,
        value: Literal,
    },
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

impl Filter {
    /// `field op value`. Panics when `field` is not a field path (letters, digits and `_`,
    /// segments joined by `/`): that is a bug in the calling code, not bad data.
    pub fn compare(field: &'static str, op: Cmp, value: impl Into<Literal>) -> Filter {
        assert!(is_field_path(field), "not a field path: {field:?}");
        Filter::Compare {
            field,
            op,
            value: value.into(),
        }
    }

    pub fn eq(field: &'static str, value: impl Into<Literal>) -> Filter {
        Filter::compare(field, Cmp::Eq, value)
    }
    pub fn ne(field: &'static str, value: impl Into<Literal>) -> Filter {
        Filter::compare(field, Cmp::Ne, value)
    }
    pub fn gt(field: &'static str, value: impl Into<Literal>) -> Filter {
        Filter::compare(field, Cmp::Gt, value)
    }
    pub fn ge(field: &'static str, value: impl Into<Literal>) -> Filter {
        Filter::compare(field, Cmp::Ge, value)
    }
    pub fn lt(field: &'static str, value: impl Into<Literal>) -> Filter {
        Filter::compare(field, Cmp::Lt, value)
    }
    pub fn le(field: &'static str, value: impl Into<Literal>) -> Filter {
        Filter::compare(field, Cmp::Le, value)
    }

    pub fn and(self, other: Filter) -> Filter {
        Filter::And(Box::new(self), Box::new(other))
    }

    pub fn or(self, other: Filter) -> Filter {
        Filter::Or(Box::new(self), Box::new(other))
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Filter {
        Filter::Not(Box::new(self))
    }

    fn precedence(&self) -> u8 {
        match self {
            Filter::Or(..) => 1,
            Filter::And(..) => 2,
            Filter::Not(..) | Filter::Compare { .. } => 3,
        }
    }

    fn write_child(&self, child: &Filter, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if child.precedence() < self.precedence() {
            write!(f, "({child})")
        } else {
            write!(f, "{child}")
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { field, op, value } => write!(f, "{field} {} {value}", op.as_str()),
            Filter::And(a, b) => {
                self.write_child(a, f)?;
                f.write_str(" and ")?;
                self.write_child(b, f)
            }
            Filter::Or(a, b) => {
                self.write_child(a, f)?;
                f.write_str(" or ")?;
                self.write_child(b, f)
            }
            Filter::Not(a) => write!(f, "not ({a})"),
        }
    }
}

/// A field path: `Name` or `Linked/Name`, letters, digits and `_`, not starting with a digit.
pub fn is_field_path(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|seg| {
            let mut chars = seg.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_escapes() {
        let f = Filter::eq("MainContact/Email", "a'b@example.com");
        assert_eq!(f.to_string(), "MainContact/Email eq 'a''b@example.com'");
        let evil = Filter::eq("CustomerOrder", "x' or 1 eq 1 or 'a' eq 'a");
        assert_eq!(
            evil.to_string(),
            "CustomerOrder eq 'x'' or 1 eq 1 or ''a'' eq ''a'"
        );
    }

    #[test]
    fn precedence_gets_parentheses() {
        let f = Filter::eq("A", 1)
            .or(Filter::eq("B", true))
            .and(Filter::ne("C", Decimal::new(125, 1)));
        assert_eq!(f.to_string(), "(A eq 1 or B eq true) and C ne 12.5");
        let g = Filter::eq("A", 1)
            .and(Filter::eq("B", 2))
            .or(Filter::eq("C", 3));
        assert_eq!(g.to_string(), "A eq 1 and B eq 2 or C eq 3");
        let d = DateTime::parse_from_rfc3339("2016-07-15T10:31:28.402+03:00").unwrap();
        assert_eq!(
            Filter::gt("LastModified", d).to_string(),
            "LastModified gt datetimeoffset'2016-07-15T10:31:28.402+03:00'"
        );
    }

    #[test]
    #[should_panic(expected = "not a field path")]
    fn field_names_are_checked() {
        let _ = Filter::eq("A eq 1 or B", 1);
    }
}

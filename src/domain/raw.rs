//! Values as they arrived, before validation. The GraphQL scalars parse into these without
//! failing, so that validation can name the exact field that is wrong.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::FieldError;

/// A decimal as received: valid, or the reason it is not.
#[derive(Debug, Clone, PartialEq)]
pub enum RawDecimal {
    Valid(Decimal),
    Invalid(String),
}

impl RawDecimal {
    /// Parses a decimal from its string form ("12.50"). Exponents, spaces and signs other than
    /// a leading minus are refused.
    pub fn parse(text: &str) -> RawDecimal {
        let ok = !text.is_empty()
            && text
                .trim_start_matches('-')
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.')
            && text.chars().filter(|c| *c == '.').count() <= 1
            && text
                .trim_start_matches('-')
                .starts_with(|c: char| c.is_ascii_digit());
        match text.parse::<Decimal>() {
            Ok(d) if ok => RawDecimal::Valid(d),
            _ => RawDecimal::Invalid(format!(
                "\"{text}\" is not a decimal number such as \"12.50\""
            )),
        }
    }

    pub fn get(&self, field: &str) -> Result<Decimal, FieldError> {
        match self {
            RawDecimal::Valid(d) => Ok(*d),
            RawDecimal::Invalid(why) => Err(FieldError::new(field, why.clone())),
        }
    }
}

/// A timestamp as received: valid (normalised to UTC), or the reason it is not.
#[derive(Debug, Clone, PartialEq)]
pub enum RawDateTime {
    Valid(DateTime<Utc>),
    Invalid(String),
}

impl RawDateTime {
    pub fn parse(text: &str) -> RawDateTime {
        match DateTime::parse_from_rfc3339(text) {
            Ok(t) => RawDateTime::Valid(t.with_timezone(&Utc)),
            Err(_) => RawDateTime::Invalid(format!(
                "\"{text}\" is not an RFC 3339 date-time such as \"2026-01-31T12:00:00Z\""
            )),
        }
    }

    pub fn get(&self, field: &str) -> Result<DateTime<Utc>, FieldError> {
        match self {
            RawDateTime::Valid(t) => Ok(*t),
            RawDateTime::Invalid(why) => Err(FieldError::new(field, why.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(
            RawDecimal::parse("12.50"),
            RawDecimal::Valid("12.50".parse().unwrap())
        );
        assert_eq!(
            RawDecimal::parse("-1"),
            RawDecimal::Valid("-1".parse().unwrap())
        );
        for bad in ["", "1e3", " 1", "1.2.3", "abc", ".5", "+1", "1,5"] {
            assert!(
                matches!(RawDecimal::parse(bad), RawDecimal::Invalid(_)),
                "{bad}"
            );
        }
    }

    #[test]
    fn datetimes() {
        let t = RawDateTime::parse("2026-01-31T12:00:00+02:00");
        assert_eq!(
            t.get("x").unwrap().to_rfc3339(),
            "2026-01-31T10:00:00+00:00"
        );
        assert!(RawDateTime::parse("2026-01-31").get("x").is_err());
    }
}

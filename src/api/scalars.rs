//! The contract's scalars. Both parse without failing, keeping a bad value with its reason, so
//! that validation can report it as BAD_INPUT with the exact field path.
//!
//! - `Decimal`: a JSON string such as "12.50"; a JSON number is refused (no floating point).
//!   Money is written at its currency's scale ([`Decimal::money`]).
//! - `DateTime`: RFC 3339 with any offset; output is UTC with "Z".

use async_graphql::{InputValueResult, Scalar, ScalarType, Value};
use chrono::{SecondsFormat, Utc};

use crate::domain::raw::{RawDateTime, RawDecimal};

/// GraphQL `Decimal`.
#[derive(Debug, Clone, PartialEq)]
pub struct Decimal(pub RawDecimal);

#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        Ok(Decimal(match value {
            Value::String(s) => RawDecimal::parse(&s),
            Value::Number(n) => RawDecimal::Invalid(format!(
                "{n} is a JSON number; send decimals as strings such as \"{n}\""
            )),
            other => RawDecimal::Invalid(format!("{other} is not a decimal string")),
        }))
    }

    fn to_value(&self) -> Value {
        match &self.0 {
            RawDecimal::Valid(d) => Value::String(d.to_string()),
            RawDecimal::Invalid(_) => Value::Null,
        }
    }
}

impl Decimal {
    /// A money amount of `currency`, written at that currency's scale ("35.00" USD, "1000" JPY).
    pub fn money(amount: rust_decimal::Decimal, currency: &str) -> Decimal {
        crate::domain::money::at_currency_scale(amount, currency).into()
    }
}

impl From<rust_decimal::Decimal> for Decimal {
    fn from(d: rust_decimal::Decimal) -> Self {
        Decimal(RawDecimal::Valid(d))
    }
}

/// GraphQL `DateTime`.
#[derive(Debug, Clone, PartialEq)]
pub struct DateTime(pub RawDateTime);

#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        Ok(DateTime(match value {
            Value::String(s) => RawDateTime::parse(&s),
            other => RawDateTime::Invalid(format!("{other} is not an RFC 3339 date-time string")),
        }))
    }

    fn to_value(&self) -> Value {
        match &self.0 {
            RawDateTime::Valid(t) => Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            RawDateTime::Invalid(_) => Value::Null,
        }
    }
}

impl From<chrono::DateTime<Utc>> for DateTime {
    fn from(t: chrono::DateTime<Utc>) -> Self {
        DateTime(RawDateTime::Valid(t))
    }
}

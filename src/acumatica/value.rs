//! How field values travel: every ordinary field is wrapped, `"CustomerID": {"value": "C1"}`;
//! an empty field comes back as `{}`; linked entities are nested objects and detail entities
//! arrays of rows, neither wrapped.
//!
//! Money and quantities are [`Decimal`]s. They are sent as JSON numbers written from the
//! decimal's own digits (never through a float), and read from the number's text, so `30.0000`
//! arrives as exactly 30.0000. Dates are sent as ISO 8601 with an offset; a date read without
//! an offset is taken as UTC.

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use rust_decimal::Decimal;
use serde::de::{DeserializeOwned, Error as _};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// A type that can be the value of an entity field, with its own way of travelling.
pub trait Wire: Sized {
    fn to_wire<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error>;
    fn from_wire<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error>;
}

/// Entity types (linked entities and detail rows): plain nested JSON.
pub trait Nested: Serialize + DeserializeOwned {}

/// The serde `with` module of every entity field (`Option<T>` where `T: Wire`).
pub mod field {
    use super::*;

    pub fn serialize<T: Wire, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => v.to_wire(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Wire, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
        T::from_wire(d)
    }
}

fn wrap<S: Serializer, V: Serialize + ?Sized>(s: S, value: &V) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(1))?;
    map.serialize_entry("value", value)?;
    map.end()
}

/// `{"value": x}`, `{"value": null}`, `{}`, or `{"value": x, "error": "..."}`.
#[derive(Deserialize)]
struct Wrapped<T> {
    #[serde(default = "none")]
    value: Option<T>,
}

fn none<T>() -> Option<T> {
    None
}

fn unwrap<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
    Ok(Option::<Wrapped<T>>::deserialize(d)?.and_then(|w| w.value))
}

macro_rules! plain_wire {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            fn to_wire<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                wrap(s, self)
            }
            fn from_wire<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
                unwrap(d)
            }
        }
    )*};
}

plain_wire!(String, bool, i32, i64);

impl Wire for Decimal {
    fn to_wire<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        wrap(s, &decimal_number(*self))
    }

    fn from_wire<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
        let Some(raw) = unwrap::<Box<RawValue>, D>(d)? else {
            return Ok(None);
        };
        parse_decimal(raw.get()).map(Some).map_err(D::Error::custom)
    }
}

impl Wire for DateTime<FixedOffset> {
    fn to_wire<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        wrap(s, &self.to_rfc3339())
    }

    fn from_wire<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
        let Some(text) = unwrap::<String, D>(d)? else {
            return Ok(None);
        };
        parse_datetime(&text).map(Some).map_err(D::Error::custom)
    }
}

impl<T: Nested> Wire for T {
    fn to_wire<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.serialize(s)
    }

    fn from_wire<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
        Option::<T>::deserialize(d)
    }
}

impl<T: Nested> Nested for Vec<T> {}

/// A decimal as a JSON number with exactly its own digits (`12.50` stays `12.50`).
pub fn decimal_number(d: Decimal) -> Box<RawValue> {
    RawValue::from_string(d.to_string()).expect("a decimal's text is a JSON number")
}

/// Reads a decimal from a JSON number's text (`30.0000`, `1e3`) or a JSON string (`"30.00"`).
pub fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let t = text.trim();
    let t = t
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(t);
    let parsed = if t.contains(['e', 'E']) {
        Decimal::from_scientific(t)
    } else {
        t.parse::<Decimal>()
    };
    parsed.map_err(|e| format!("\"{t}\" is not a decimal number: {e}"))
}

/// Reads an Acumatica date: ISO 8601 with or without an offset (without: UTC).
pub fn parse_datetime(text: &str) -> Result<DateTime<FixedOffset>, String> {
    if let Ok(d) = DateTime::parse_from_rfc3339(text) {
        return Ok(d);
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|n| n.and_utc().fixed_offset())
        .map_err(|_| format!("\"{text}\" is not an ISO 8601 date and time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Default, Debug)]
    struct T {
        #[serde(
            rename = "A",
            default,
            skip_serializing_if = "Option::is_none",
            with = "field"
        )]
        a: Option<Decimal>,
        #[serde(
            rename = "D",
            default,
            skip_serializing_if = "Option::is_none",
            with = "field"
        )]
        d: Option<DateTime<FixedOffset>>,
        #[serde(
            rename = "S",
            default,
            skip_serializing_if = "Option::is_none",
            with = "field"
        )]
        s: Option<String>,
    }

    #[test]
    fn decimals_are_exact_both_ways() {
        let t: T = serde_json::from_str(r#"{"A":{"value":30.0000},"S":{}}"#).unwrap();
        assert_eq!(t.a.unwrap().to_string(), "30.0000");
        assert_eq!(t.s, None);
        let t: T = serde_json::from_str(r#"{"A":{"value":"0.10"}}"#).unwrap();
        assert_eq!(t.a.unwrap().to_string(), "0.10");
        let t: T = serde_json::from_str(r#"{"A":{"value":null,"error":"x"}}"#).unwrap();
        assert_eq!(t.a, None);
        let out = serde_json::to_string(&T {
            a: Some("0.1".parse().unwrap()),
            ..T::default()
        })
        .unwrap();
        assert_eq!(out, r#"{"A":{"value":0.1}}"#);
        let big: Decimal = "12345678901234567.8901".parse().unwrap();
        let t: T = serde_json::from_str(&format!(r#"{{"A":{{"value":{big}}}}}"#)).unwrap();
        assert_eq!(t.a, Some(big));
    }

    #[test]
    fn dates() {
        let t: T =
            serde_json::from_str(r#"{"D":{"value":"2023-12-14T17:20:45.16+00:00"}}"#).unwrap();
        assert_eq!(t.d.unwrap().to_rfc3339(), "2023-12-14T17:20:45.160+00:00");
        let t: T = serde_json::from_str(r#"{"D":{"value":"2024-05-10T00:00:00"}}"#).unwrap();
        assert_eq!(t.d.unwrap().to_rfc3339(), "2024-05-10T00:00:00+00:00");
    }
}

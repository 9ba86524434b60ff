//! The field names of the official endpoint schemas, for the entity types the bridge uses.
//!
//! `schema_fields.json` is derived from Acumatica's published swagger/OpenAPI files by
//! `scripts/schema-fields.py`; the test `schema_fields_match_official_schema` (tests/it) derives
//! it again and fails when they disagree. The client's tests check the typed entities against
//! it, and the simulator drops every field it does not list, as Acumatica does.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::de::{self, DeserializeOwned, Visitor};

/// Contract versions the fixture covers. It holds the eCommerce endpoint's fields; Default has
/// the same but for [`ECOMMERCE_ONLY`] (see [`kind_at`]).
pub const VERSIONS: &[&str] = &["23.200.001", "24.200.001"];

/// Fields every entity has besides its own (`delete` on detail rows, `_links` on some builds).
pub const SYSTEM_FIELDS: &[&str] = &[
    "id",
    "rowNumber",
    "note",
    "custom",
    "error",
    "files",
    "delete",
    "_links",
];

/// version → entity type → field → kind, as stored in the fixture.
pub type Fields = BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>;

/// What a field holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// A wrapped value; the string is the wrapper type without `Value` (`String`, `Decimal`...).
    Value(String),
    /// A linked entity of the named type.
    Link(String),
    /// Detail rows of the named type.
    List(String),
}

const WRAPPERS: &[&str] = &[
    "String", "Decimal", "Int", "Short", "Long", "Boolean", "DateTime", "Guid", "Double", "Byte",
];

impl FieldKind {
    pub fn parse(kind: &str) -> FieldKind {
        if let Some(inner) = kind.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
            FieldKind::List(inner.to_string())
        } else if WRAPPERS.contains(&kind) {
            FieldKind::Value(kind.to_string())
        } else {
            FieldKind::Link(kind.to_string())
        }
    }
}

/// The committed fixture, parsed once.
pub fn fields() -> &'static Fields {
    static FIELDS: OnceLock<Fields> = OnceLock::new();
    FIELDS.get_or_init(|| {
        serde_json::from_str(include_str!("schema_fields.json"))
            .expect("schema_fields.json is valid (checked by tests)")
    })
}

/// The kind of `field` of entity type `ty` in `version`, if the schema has it.
pub fn kind(version: &str, ty: &str, field: &str) -> Option<FieldKind> {
    fields()
        .get(version)?
        .get(ty)?
        .get(field)
        .map(|k| FieldKind::parse(k))
}

/// Fields the fixture lists (it is derived from the eCommerce schemas) that the Default
/// endpoint of that version lacks: eCommerce extends Default, and in 23.200.001 it adds
/// these (API-NOTES §3; in 24.200.001 the field definitions are identical).
pub const ECOMMERCE_ONLY: &[(&str, &str, &str)] =
    &[("23.200.001", "StockItem", "LastModifiedDateTime")];

/// The kind of `field` of entity type `ty` in the endpoint `endpoint` of `version`.
pub fn kind_at(endpoint: &str, version: &str, ty: &str, field: &str) -> Option<FieldKind> {
    let ecommerce_only = ECOMMERCE_ONLY.contains(&(version, ty, field));
    if ecommerce_only && !endpoint.eq_ignore_ascii_case("eCommerce") {
        return None;
    }
    kind(version, ty, field)
}

/// The first of `paths` (`$select` or `$expand` paths such as `MainContact/Email`) that entity
/// type `ty` of that endpoint and version does not have: Acumatica answers it with a 500.
pub fn unknown_path<'a>(
    endpoint: &str,
    version: &str,
    ty: &str,
    paths: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    paths.into_iter().find(|path| {
        let mut current = ty.to_string();
        path.split('/').any(|seg| {
            match kind_at(endpoint, version, &current, seg) {
                Some(FieldKind::Link(t) | FieldKind::List(t)) => current = t,
                Some(FieldKind::Value(_)) => current = String::new(),
                None => return true,
            }
            false
        })
    })
}

/// The JSON field names a serde-derived struct reads, as its derived `Deserialize` declares
/// them (it hands them to `deserialize_struct`, which this catches without reading anything).
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Catch<'a>(&'a mut &'static [&'static str]);

    #[derive(Debug)]
    struct Caught;
    impl std::fmt::Display for Caught {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("caught")
        }
    }
    impl std::error::Error for Caught {}
    impl de::Error for Caught {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Caught
        }
    }

    impl<'de> de::Deserializer<'de> for Catch<'_> {
        type Error = Caught;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Caught> {
            Err(Caught)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Caught> {
            *self.0 = fields;
            Err(Caught)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    let mut names: &'static [&'static str] = &[];
    let _ = T::deserialize(Catch(&mut names));
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_parses_and_kinds_read() {
        for v in VERSIONS {
            assert!(fields().contains_key(*v), "{v}");
        }
        assert_eq!(
            kind("24.200.001", "SalesOrder", "Details"),
            Some(FieldKind::List("SalesOrderDetail".into()))
        );
        assert_eq!(
            kind("23.200.001", "Customer", "MainContact"),
            Some(FieldKind::Link("Contact".into()))
        );
        assert_eq!(
            kind("23.200.001", "StockItem", "DefaultPrice"),
            Some(FieldKind::Value("Decimal".into()))
        );
        assert_eq!(kind("23.200.001", "SalesOrderDetail", "Quantity"), None);
    }

    #[test]
    fn fields_are_per_endpoint_and_version() {
        let lmdt = |e, v| kind_at(e, v, "StockItem", "LastModifiedDateTime").is_some();
        assert!(!lmdt("Default", "23.200.001"));
        assert!(lmdt("eCommerce", "23.200.001"));
        assert!(lmdt("Default", "24.200.001"));
        let paths = ["InventoryID", "LastModifiedDateTime"];
        assert_eq!(
            unknown_path("Default", "23.200.001", "StockItem", paths),
            Some("LastModifiedDateTime")
        );
        assert_eq!(
            unknown_path("Default", "24.200.001", "StockItem", paths),
            None
        );
        assert_eq!(
            unknown_path("Default", "24.200.001", "Customer", ["MainContact/Email"]),
            None
        );
        assert_eq!(
            unknown_path("Default", "24.200.001", "Customer", ["MainContact/Nope"]),
            Some("MainContact/Nope")
        );
    }

    #[test]
    fn field_names_of_a_derived_struct() {
        #[derive(serde::Deserialize)]
        #[allow(dead_code)]
        struct S {
            #[serde(rename = "A")]
            a: i32,
            b: String,
        }
        assert_eq!(field_names::<S>(), ["A", "b"]);
    }
}

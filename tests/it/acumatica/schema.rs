//! The committed fixture `src/acumatica/schema_fields.json` against the official schemas (the
//! extracts of Acumatica's published files in `tests/data/acumatica/`, see its `SOURCE.md`), and
//! the typed entities against the fixture. Regenerate the fixture with `scripts/schema-fields.py`
//! or `cargo test --test it regenerate_schema_fields -- --ignored`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use acumatica_bridge::acumatica::entities::*;
use acumatica_bridge::acumatica::schema::{
    self, FieldKind, Fields, SYSTEM_FIELDS, VERSIONS, field_names,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The entity types the fixture covers.
const TYPES: &[&str] = &[
    "Address",
    "Contact",
    "Customer",
    "CustomerClass",
    "DocContact",
    "Invoice",
    "InvoiceDetail",
    "ItemClass",
    "Payment",
    "PaymentMethod",
    "PaymentMethodAllowedCashAccountDetail",
    "PaymentOrderDetail",
    "SalesOrder",
    "SalesOrderDetail",
    "SalesOrderPayment",
    "SalesOrderShipment",
    "Shipment",
    "ShipmentDetail",
    "ShipmentOrderDetail",
    "ShipmentPackage",
    "ShippingSettings",
    "StockItem",
    "Subaccount",
    "TaxCategory",
    "Totals",
    "Warehouse",
];

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/acumatica")
}

fn load(version: &str) -> Value {
    let file = match version {
        "23.200.001" => "eCommerce_23.200.001.swagger.json",
        "24.200.001" => "eCommerce_24.200.001.openapi.json",
        other => panic!("no official schema file is known for version {other}"),
    };
    let path = schema_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the official Acumatica schema {} ({e}); it is part of the repository \
             (tests/data/acumatica/SOURCE.md says how to write it again)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn kind_of(prop: &Value) -> String {
    let reference = |v: &Value| {
        v.get("$ref")
            .and_then(Value::as_str)
            .expect("a $ref")
            .rsplit('/')
            .next()
            .unwrap()
            .to_string()
    };
    if prop.get("type").and_then(Value::as_str) == Some("array") {
        return format!("[{}]", reference(&prop["items"]));
    }
    let name = reference(prop);
    name.strip_suffix("Value")
        .map(str::to_string)
        .unwrap_or(name)
}

/// Derives the fixture from the official schemas, as `scripts/schema-fields.py` does.
fn derive() -> Fields {
    let mut out = Fields::new();
    for version in VERSIONS {
        let doc = load(version);
        let defs = doc
            .get("definitions")
            .or_else(|| doc.pointer("/components/schemas"))
            .expect("a swagger 2 or OpenAPI 3 document");
        let mut types = BTreeMap::new();
        for ty in TYPES {
            let def = defs
                .get(*ty)
                .unwrap_or_else(|| panic!("{version}: the official schema has no {ty}"));
            let parts = def
                .get("allOf")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_else(|| vec![def.clone()]);
            let mut fields = BTreeMap::new();
            for part in parts.iter().filter(|p| p.get("$ref").is_none()) {
                for (name, prop) in part
                    .get("properties")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    fields.insert(name.clone(), kind_of(prop));
                }
            }
            types.insert(ty.to_string(), fields);
        }
        out.insert(version.to_string(), types);
    }
    out
}

#[test]
fn schema_fields_match_official_schema() {
    let official = derive();
    let committed = schema::fields();
    for version in VERSIONS {
        for ty in TYPES {
            let want = &official[*version][*ty];
            let have = committed
                .get(*version)
                .and_then(|v| v.get(*ty))
                .unwrap_or_else(|| {
                    panic!("src/acumatica/schema_fields.json lacks {version}/{ty}; regenerate it")
                });
            let missing: Vec<_> = want.keys().filter(|k| !have.contains_key(*k)).collect();
            let extra: Vec<_> = have.keys().filter(|k| !want.contains_key(*k)).collect();
            let changed: Vec<_> = want
                .iter()
                .filter(|(k, v)| have.get(*k).is_some_and(|h| h != *v))
                .map(|(k, _)| k)
                .collect();
            assert!(
                missing.is_empty() && extra.is_empty() && changed.is_empty(),
                "src/acumatica/schema_fields.json disagrees with the official {version} schema for {ty}: \
                 missing {missing:?}, not official {extra:?}, other kind {changed:?}; regenerate it"
            );
        }
    }
    assert_eq!(
        committed, &official,
        "the fixture holds more than the official schemas give"
    );
}

#[test]
#[ignore = "writes src/acumatica/schema_fields.json from tests/data/acumatica"]
fn regenerate_schema_fields() {
    let text = serde_json::to_string_pretty(&derive()).unwrap();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/acumatica/schema_fields.json");
    std::fs::write(&path, text + "\n").unwrap();
}

fn check<T: DeserializeOwned + SchemaType>() -> Vec<String> {
    let mut problems = Vec::new();
    for version in VERSIONS {
        let fields = &schema::fields()[*version][T::SCHEMA];
        for name in field_names::<T>() {
            if !SYSTEM_FIELDS.contains(name) && !fields.contains_key(*name) {
                problems.push(format!(
                    "{version}: {}.{name} is not in the official schema",
                    T::SCHEMA
                ));
            }
        }
    }
    problems
}

#[test]
fn entity_fields_exist_in_the_official_schema() {
    let mut problems = Vec::new();
    problems.extend(check::<Address>());
    problems.extend(check::<Contact>());
    problems.extend(check::<DocContact>());
    problems.extend(check::<Customer>());
    problems.extend(check::<StockItem>());
    problems.extend(check::<SalesOrder>());
    problems.extend(check::<SalesOrderDetail>());
    problems.extend(check::<SalesOrderPayment>());
    problems.extend(check::<ShippingSettings>());
    problems.extend(check::<Totals>());
    problems.extend(check::<CustomerClass>());
    problems.extend(check::<ItemClass>());
    problems.extend(check::<TaxCategory>());
    problems.extend(check::<Warehouse>());
    problems.extend(check::<Subaccount>());
    problems.extend(check::<PaymentMethod>());
    problems.extend(check::<PaymentMethodCashAccount>());
    problems.extend(check::<Shipment>());
    problems.extend(check::<ShipmentOrderDetail>());
    problems.extend(check::<ShipmentDetail>());
    problems.extend(check::<ShipmentPackage>());
    problems.extend(check::<Payment>());
    problems.extend(check::<PaymentOrderDetail>());
    problems.extend(check::<Invoice>());
    problems.extend(check::<InvoiceDetail>());
    assert!(problems.is_empty(), "{problems:#?}");
    // The test can fail: a misspelt field is caught.
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Misspelt {
        #[serde(rename = "Quantity")]
        q: i32,
    }
    impl SchemaType for Misspelt {
        const SCHEMA: &'static str = "SalesOrderDetail";
    }
    assert_eq!(check::<Misspelt>().len(), VERSIONS.len());
}

#[test]
fn linked_entities_have_the_official_types() {
    let links: &[(&str, &str, &str)] = &[
        ("Customer", "MainContact", Contact::SCHEMA),
        ("Contact", "Address", Address::SCHEMA),
        ("SalesOrder", "BillToAddress", Address::SCHEMA),
        ("SalesOrder", "ShipToAddress", Address::SCHEMA),
        ("SalesOrder", "BillToContact", DocContact::SCHEMA),
        ("SalesOrder", "ShipToContact", DocContact::SCHEMA),
        ("SalesOrder", "ShippingSettings", ShippingSettings::SCHEMA),
        ("SalesOrder", "Totals", Totals::SCHEMA),
    ];
    for version in VERSIONS {
        for (ty, field, linked) in links {
            assert_eq!(
                schema::kind(version, ty, field),
                Some(FieldKind::Link(linked.to_string())),
                "{version} {ty}.{field}"
            );
        }
        assert_eq!(
            schema::kind(version, "SalesOrder", "Details"),
            Some(FieldKind::List(SalesOrderDetail::SCHEMA.to_string()))
        );
    }
    // PostingClass is no entity of these endpoints; item classes carry one.
    assert!(schema::kind("24.200.001", "ItemClass", "PostingClass").is_some());
}

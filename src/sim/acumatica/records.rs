//! Records between the wire and the simulator's memory, driven by the official field lists
//! ([`crate::acumatica::schema`]):
//!
//! - [`normalize`] reads a PUT body into plain form: `{"value": x}` unwrapped (a bare value is a
//!   400, as Acumatica's deserializer refuses it), `{}` meaning "no change", decimals kept as
//!   their exact digits, and every field outside the schema silently dropped;
//! - [`render`] writes a record back the Acumatica way, with `$select` and `$expand` applied and,
//!   for a 422, `error`s attached to the fields they concern.

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::acumatica::schema::{self, FieldKind};
use crate::acumatica::value::parse_decimal;

/// A body Acumatica would refuse with 400: the field path and the message.
#[derive(Debug)]
pub struct Invalid {
    pub path: String,
    pub message: String,
}

fn fields(version: &str, ty: &str) -> Option<&'static BTreeMap<String, String>> {
    schema::fields().get(version)?.get(ty)
}

/// Reads a wrapped entity of type `ty` into plain form.
pub fn normalize(
    version: &str,
    ty: &str,
    input: &Value,
    path: &str,
) -> Result<Map<String, Value>, Invalid> {
    let Some(obj) = input.as_object() else {
        return Err(Invalid {
            path: path.to_string(),
            message: format!(
                "Cannot deserialize the current JSON value into type '{ty}'. Path '{path}'."
            ),
        });
    };
    let mut out = Map::new();
    for (name, value) in obj {
        let here = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        match name.as_str() {
            "id" => {
                if let Some(id) = value.as_str() {
                    out.insert("id".into(), Value::String(id.to_string()));
                }
                continue;
            }
            "delete" => {
                if let Some(flag) = value.as_bool() {
                    out.insert("delete".into(), Value::Bool(flag));
                }
                continue;
            }
            "note" => {
                if let Some(note) = value.get("value").and_then(Value::as_str) {
                    out.insert("note".into(), Value::String(note.to_string()));
                }
                continue;
            }
            _ => {}
        }
        let Some(kind) = schema::kind(version, ty, name) else {
            continue; // outside the contract: silently dropped, as Acumatica does
        };
        match kind {
            FieldKind::Value(wrapper) => match value {
                Value::Object(wrapped) => {
                    if let Some(inner) = wrapped.get("value") {
                        out.insert(name.clone(), coerce(&wrapper, inner, &here)?);
                    }
                }
                other => {
                    return Err(Invalid {
                        path: here.clone(),
                        message: format!(
                            "Error converting value {other} to type 'PX.Api.ContractBased.Models.{wrapper}Value'. Path '{here}'."
                        ),
                    });
                }
            },
            FieldKind::Link(linked) => {
                if fields(version, &linked).is_some() && !value.is_null() {
                    let nested = normalize(version, &linked, value, &here)?;
                    out.insert(name.clone(), Value::Object(nested));
                }
            }
            FieldKind::List(row_type) => {
                if fields(version, &row_type).is_none() || value.is_null() {
                    continue;
                }
                let Some(rows) = value.as_array() else {
                    return Err(Invalid {
                        path: here.clone(),
                        message: format!(
                            "Cannot deserialize the current JSON object into a list. Path '{here}'."
                        ),
                    });
                };
                let mut plain = Vec::new();
                for (i, row) in rows.iter().enumerate() {
                    plain.push(Value::Object(normalize(
                        version,
                        &row_type,
                        row,
                        &format!("{here}[{i}]"),
                    )?));
                }
                out.insert(name.clone(), Value::Array(plain));
            }
        }
    }
    Ok(out)
}

/// A wrapped value's content, as the field's type wants it.
fn coerce(wrapper: &str, v: &Value, path: &str) -> Result<Value, Invalid> {
    let bad = || Invalid {
        path: path.to_string(),
        message: format!("Error converting value {v} to type '{wrapper}'. Path '{path}.value'."),
    };
    Ok(match (wrapper, v) {
        (_, Value::Null) => Value::Null,
        ("Decimal" | "Double", Value::Number(n)) => Value::String(
            parse_decimal(&n.to_string())
                .map_err(|_| bad())?
                .to_string(),
        ),
        ("Decimal" | "Double", Value::String(s)) => {
            Value::String(parse_decimal(s).map_err(|_| bad())?.to_string())
        }
        ("Int" | "Short" | "Long" | "Byte", Value::Number(n)) if n.is_i64() => v.clone(),
        ("Int" | "Short" | "Long" | "Byte", Value::String(s)) => {
            Value::from(s.trim().parse::<i64>().map_err(|_| bad())?)
        }
        ("Boolean", Value::Bool(_)) => v.clone(),
        ("Boolean", Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad()),
        },
        ("String" | "Guid" | "DateTime", Value::String(_)) => v.clone(),
        ("String", Value::Number(_) | Value::Bool(_)) => Value::String(v.to_string()),
        _ => return Err(bad()),
    })
}

/// A JSON answer whose numbers keep their exact digits (`30.0000`).
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    List(Vec<Out>),
    Obj(Vec<(String, Out)>),
}

impl Serialize for Out {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Out::Null => s.serialize_none(),
            Out::Bool(b) => s.serialize_bool(*b),
            Out::Num(text) => match serde_json::value::RawValue::from_string(text.clone()) {
                Ok(raw) => raw.serialize(s),
                Err(_) => s.serialize_str(text),
            },
            Out::Str(text) => s.serialize_str(text),
            Out::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Out::Obj(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// What to return: `$select` and `$expand` paths, or everything (for a 422 and for inspection).
#[derive(Debug, Clone, Default)]
pub struct Shape {
    pub select: Vec<String>,
    pub expand: Vec<String>,
    pub everything: bool,
}

impl Shape {
    pub fn everything() -> Shape {
        Shape {
            everything: true,
            ..Shape::default()
        }
    }

    fn value(&self, node: &str, full: &str) -> bool {
        if self.everything || self.select.is_empty() {
            return true;
        }
        let targets_node = self.select.iter().any(|s| parent(s) == node);
        !targets_node || self.select.iter().any(|s| s == full)
    }

    fn entity(&self, full: &str) -> bool {
        self.everything
            || self
                .expand
                .iter()
                .any(|e| e == full || e.starts_with(&format!("{full}/")))
            || self
                .select
                .iter()
                .any(|s| s.starts_with(&format!("{full}/")))
    }

    /// Checks every `$select` and `$expand` path against the schema; the first unknown one is
    /// returned (Acumatica answers it with a KeyNotFoundException).
    pub fn unknown_path(&self, endpoint: &str, version: &str, ty: &str) -> Option<String> {
        let paths = self.select.iter().chain(&self.expand).map(String::as_str);
        schema::unknown_path(endpoint, version, ty, paths).map(str::to_owned)
    }
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

fn join(node: &str, name: &str) -> String {
    if node.is_empty() {
        name.to_string()
    } else {
        format!("{node}/{name}")
    }
}

/// Writes a plain record of type `ty` the Acumatica way. `errors` maps paths such as
/// `CustomerID`, `Details/1/InventoryID` or `` (the record itself) to messages.
pub fn render(
    version: &str,
    ty: &str,
    record: &Value,
    shape: &Shape,
    errors: &BTreeMap<String, String>,
) -> Out {
    render_node(version, ty, record, shape, errors, "", "", Some(1))
}

#[allow(clippy::too_many_arguments)]
fn render_node(
    version: &str,
    ty: &str,
    record: &Value,
    shape: &Shape,
    errors: &BTreeMap<String, String>,
    node: &str,
    error_node: &str,
    row_number: Option<usize>,
) -> Out {
    let mut out = Vec::new();
    if let Some(id) = record.get("id").and_then(Value::as_str) {
        out.push(("id".to_string(), Out::Str(id.to_string())));
    }
    if let Some(n) = row_number {
        out.push(("rowNumber".to_string(), Out::Num(n.to_string())));
        let note = record.get("note").and_then(Value::as_str).unwrap_or("");
        out.push((
            "note".to_string(),
            Out::Obj(vec![("value".into(), Out::Str(note.into()))]),
        ));
    }
    if let Some(e) = errors.get(error_node) {
        out.push(("error".to_string(), Out::Str(e.clone())));
    }
    let Some(schema_fields) = fields(version, ty) else {
        return Out::Obj(out);
    };
    let Some(map) = record.as_object() else {
        return Out::Obj(out);
    };
    for (name, value) in map {
        let Some(kind) = schema_fields.get(name).map(|k| FieldKind::parse(k)) else {
            continue;
        };
        let full = join(node, name);
        let error_path = join(error_node, name);
        match kind {
            FieldKind::Value(wrapper) => {
                if !shape.value(node, &full) {
                    continue;
                }
                let mut wrapped = vec![("value".to_string(), leaf(&wrapper, value))];
                if let Some(e) = errors.get(&error_path) {
                    wrapped.push(("error".to_string(), Out::Str(e.clone())));
                }
                out.push((name.clone(), Out::Obj(wrapped)));
            }
            FieldKind::Link(linked) => {
                if shape.entity(&full) {
                    let nested = render_node(
                        version,
                        &linked,
                        value,
                        shape,
                        errors,
                        &full,
                        &error_path,
                        None,
                    );
                    out.push((name.clone(), nested));
                }
            }
            FieldKind::List(row_type) => {
                if shape.entity(&full) {
                    let rows = value.as_array().map(Vec::as_slice).unwrap_or(&[]);
                    let rendered = rows
                        .iter()
                        .enumerate()
                        .map(|(i, row)| {
                            render_node(
                                version,
                                &row_type,
                                row,
                                shape,
                                errors,
                                &full,
                                &format!("{error_path}/{i}"),
                                Some(i + 1),
                            )
                        })
                        .collect();
                    out.push((name.clone(), Out::List(rendered)));
                }
            }
        }
    }
    Out::Obj(out)
}

fn leaf(wrapper: &str, v: &Value) -> Out {
    match v {
        Value::Null => Out::Null,
        Value::Bool(b) => Out::Bool(*b),
        Value::Number(n) => Out::Num(n.to_string()),
        Value::String(s) if matches!(wrapper, "Decimal" | "Double") => Out::Num(s.clone()),
        Value::String(s) => Out::Str(s.clone()),
        other => Out::Str(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const V: &str = "24.200.001";

    #[test]
    fn unknown_fields_are_dropped_and_values_unwrapped() {
        let input = json!({"OrderType": {"value": "SO"}, "Bogus": {"value": 1},
            "Details": [{"InventoryID": {"value": "A"}, "Quantity": {"value": 2}, "OrderQty": {"value": 2.50}}],
            "OrderTotal": {}});
        let plain = normalize(V, "SalesOrder", &input, "").unwrap();
        assert_eq!(
            Value::Object(plain),
            json!({"OrderType": "SO", "Details": [{"InventoryID": "A", "OrderQty": "2.5"}]})
        );
    }

    #[test]
    fn bare_values_are_refused() {
        let err = normalize(V, "Customer", &json!({"CustomerID": "C1"}), "").unwrap_err();
        assert_eq!(err.path, "CustomerID");
    }

    #[test]
    fn decimals_render_with_their_digits_and_shape_applies() {
        let record = json!({"id": "x", "OrderNbr": "000001", "OrderTotal": "30.0000",
            "ShipToAddress": {"City": "Kirkland"}, "Details": [{"OrderQty": "1.000000"}]});
        let text = serde_json::to_string(&render(
            V,
            "SalesOrder",
            &record,
            &Shape::default(),
            &BTreeMap::new(),
        ))
        .unwrap();
        assert!(text.contains(r#""OrderTotal":{"value":30.0000}"#), "{text}");
        assert!(
            !text.contains("Details") && !text.contains("ShipToAddress"),
            "{text}"
        );
        let shape = Shape {
            select: vec!["OrderNbr".into()],
            expand: vec!["Details".into()],
            everything: false,
        };
        let text =
            serde_json::to_string(&render(V, "SalesOrder", &record, &shape, &BTreeMap::new()))
                .unwrap();
        assert!(
            text.contains(r#""OrderQty":{"value":1.000000}"#) && !text.contains("OrderTotal"),
            "{text}"
        );
        assert_eq!(shape.unknown_path("Default", V, "SalesOrder"), None);
        let bad = Shape {
            select: vec!["Nope".into()],
            ..Shape::default()
        };
        assert_eq!(
            bad.unknown_path("Default", V, "SalesOrder"),
            Some("Nope".into())
        );
    }
}

//! The schema tests: `schema.graphql` is what the code produces, and it offers everything of
//! the contract (`../shared/contract/core.graphql`) but the members listed as pending in
//! `tests/contract-pending.txt`, a list that may only shrink.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use async_graphql_parser::parse_schema;
use async_graphql_parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn schema_graphql_is_what_the_code_produces() {
    let committed =
        std::fs::read_to_string(root().join("schema.graphql")).expect("schema.graphql at the root");
    let produced = acumatica_bridge::api::sdl();
    assert!(
        committed == produced,
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql`"
    );
}

/// Type name → member name → (argument names, type with nullability); enum values have no signature.
type Shape = BTreeMap<String, BTreeMap<String, Option<(BTreeSet<String>, String)>>>;

fn render(t: &Type) -> String {
    let base = match &t.base {
        BaseType::Named(n) => n.to_string(),
        BaseType::List(inner) => format!("[{}]", render(inner)),
    };
    if t.nullable { base } else { format!("{base}!") }
}

fn shape(sdl: &str) -> Shape {
    let doc = parse_schema(sdl).expect("valid SDL");
    let mut out = Shape::new();
    for def in doc.definitions {
        let TypeSystemDefinition::Type(t) = def else {
            continue;
        };
        let t = t.node;
        let members = out.entry(t.name.node.to_string()).or_default();
        match t.kind {
            TypeKind::Object(o) => {
                for f in o.fields {
                    let args = f
                        .node
                        .arguments
                        .iter()
                        .map(|a| a.node.name.node.to_string())
                        .collect();
                    members.insert(
                        f.node.name.node.to_string(),
                        Some((args, render(&f.node.ty.node))),
                    );
                }
            }
            TypeKind::InputObject(o) => {
                for f in o.fields {
                    members.insert(
                        f.node.name.node.to_string(),
                        Some((BTreeSet::new(), render(&f.node.ty.node))),
                    );
                }
            }
            TypeKind::Enum(e) => {
                for v in e.values {
                    members.insert(v.node.value.node.to_string(), None);
                }
            }
            _ => {}
        }
    }
    out
}

fn contract_path() -> PathBuf {
    std::env::var_os("BRIDGE_CONTRACT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/contract/core.graphql"))
}

#[test]
fn schema_offers_the_contract_but_the_pending_members() {
    let path = contract_path();
    let contract = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the contract is needed at {} ({e}); set BRIDGE_CONTRACT to its path",
            path.display()
        )
    });
    let pending: BTreeSet<String> =
        std::fs::read_to_string(root().join("tests/contract-pending.txt"))
            .expect("tests/contract-pending.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect();
    let schema = shape(&std::fs::read_to_string(root().join("schema.graphql")).unwrap());
    let mut misses = vec![];
    let mut stale = vec![];
    for (ty, members) in shape(&contract) {
        let Some(have) = schema.get(&ty) else {
            if !pending.contains(&ty) {
                misses.push(format!("missing type {ty}"));
            }
            continue;
        };
        let mut waiting = false;
        for (member, sig) in members {
            let name = format!("{ty}.{member}");
            match have.get(&member) {
                None if pending.contains(&name) || pending.contains(&ty) => waiting = true,
                None => misses.push(format!("missing {name}")),
                Some(got) => {
                    if let (Some((args, ty_sig)), Some((got_args, got_ty))) = (&sig, got)
                        && (!args.is_subset(got_args) || ty_sig != got_ty)
                    {
                        misses.push(format!(
                            "{name}: contract {args:?} {ty_sig}, schema {got_args:?} {got_ty}"
                        ));
                    }
                    if pending.contains(&name) {
                        stale.push(name);
                    }
                }
            }
        }
        if pending.contains(&ty) && !waiting {
            stale.push(ty);
        }
    }
    assert!(
        misses.is_empty(),
        "the schema misses contract members:\n{}",
        misses.join("\n")
    );
    assert!(
        stale.is_empty(),
        "listed as pending but already offered (take them off tests/contract-pending.txt):\n{}",
        stale.join("\n")
    );
}

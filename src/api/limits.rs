//! The cost limits of one operation, checked after parsing and before anything runs: its
//! depth and its complexity, where a field with a `first` argument costs `first` times its
//! selection (so aliases of a big list cannot multiply the work unseen). Introspection
//! (`__schema`, `__type`) is counted as one field each and its own depth is not counted: the
//! standard introspection query of every GraphQL tool goes through, and its cost is bounded
//! by the schema. The same extension marks a request that reached execution, which tells a
//! request error (parse, validation, variables) from a field error.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{Name, ServerError, ServerResult, Variables};
use async_graphql_value::{ConstValue, Value};

/// Deepest nesting of fields in one operation.
pub const MAX_DEPTH: usize = 12;
/// Highest cost of one operation (see the module doc).
pub const MAX_COMPLEXITY: u64 = 25_000;

/// Set when the operation started to execute (request data of [`super::run`]).
#[derive(Default)]
pub(super) struct Executed(AtomicBool);

impl Executed {
    pub(super) fn get(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

pub(super) struct Limits;

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Limits)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Limits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        check(&document, variables, &ctx.schema_env.registry)?;
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> async_graphql::Response {
        if let Some(executed) = ctx.data_opt::<Arc<Executed>>() {
            executed.0.store(true, Ordering::SeqCst);
        }
        next.run(ctx, operation_name).await
    }
}

/// What one operation (the costliest of the document) would take.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Cost {
    pub depth: usize,
    pub complexity: u64,
}

fn check(
    document: &ExecutableDocument,
    variables: &Variables,
    registry: &Registry,
) -> ServerResult<()> {
    let cost = cost(document, variables, registry);
    let refuse = |message: String| {
        let mut e = ServerError::new(message, None);
        let mut ext = async_graphql::ErrorExtensionValues::default();
        ext.set("code", "BAD_INPUT");
        ext.set("field", "query");
        e.extensions = Some(ext);
        e
    };
    if cost.depth > MAX_DEPTH {
        return Err(refuse(format!(
            "The query is nested {} levels deep; the limit is {MAX_DEPTH}.",
            cost.depth
        )));
    }
    if cost.complexity > MAX_COMPLEXITY {
        return Err(refuse(format!(
            "The query would cost {} (each field 1, a list field `first` times its fields); \
             the limit is {MAX_COMPLEXITY}: ask for fewer items or fields.",
            cost.complexity
        )));
    }
    Ok(())
}

pub(crate) fn cost(
    document: &ExecutableDocument,
    variables: &Variables,
    registry: &Registry,
) -> Cost {
    let walk = Walk {
        document,
        variables,
        registry,
    };
    let mut worst = Cost::default();
    for (_, operation) in document.operations.iter() {
        let root = match operation.node.ty {
            OperationType::Query => registry.query_type.as_str(),
            OperationType::Mutation => registry.mutation_type.as_deref().unwrap_or(""),
            OperationType::Subscription => registry.subscription_type.as_deref().unwrap_or(""),
        };
        let c = walk.set(&operation.node.selection_set.node, root, &mut Vec::new());
        worst.depth = worst.depth.max(c.depth);
        worst.complexity = worst.complexity.max(c.complexity);
    }
    worst
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    registry: &'a Registry,
}

impl Walk<'_> {
    /// The cost of a selection set; `fragments` are the spreads being expanded (a cycle is
    /// left to validation, which refuses it).
    fn set<'d>(
        &'d self,
        set: &'d SelectionSet,
        on: &'d str,
        fragments: &mut Vec<&'d Name>,
    ) -> Cost {
        let mut total = Cost::default();
        for item in &set.items {
            let c = match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    if name == "__schema" || name == "__type" {
                        Cost {
                            depth: 0,
                            complexity: 1,
                        }
                    } else if field.selection_set.node.items.is_empty() {
                        Cost {
                            depth: 1,
                            complexity: u64::from(name != "__typename"),
                        }
                    } else {
                        let meta = self
                            .registry
                            .types
                            .get(on)
                            .and_then(|t| t.fields())
                            .and_then(|f| f.get(name));
                        let of_type = meta.map_or("", |m| named_type(&m.ty));
                        let inner = self.set(&field.selection_set.node, of_type, fragments);
                        // A list with `first` costs `first` (or its default) times an item.
                        let times = match meta {
                            Some(m) if m.args.contains_key("first") => field
                                .arguments
                                .iter()
                                .find(|(n, _)| n.node.as_str() == "first")
                                .map_or(crate::paging::DEFAULT_PAGE as u64, |(_, v)| {
                                    self.count(&v.node)
                                }),
                            _ => 1,
                        };
                        Cost {
                            depth: inner.depth + 1,
                            complexity: times.saturating_mul(inner.complexity).saturating_add(1),
                        }
                    }
                }
                Selection::InlineFragment(f) => {
                    let on = f
                        .node
                        .type_condition
                        .as_ref()
                        .map_or(on, |t| t.node.on.node.as_str());
                    self.set(&f.node.selection_set.node, on, fragments)
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    match self.document.fragments.get(name) {
                        Some(f) if !fragments.contains(&name) => {
                            fragments.push(name);
                            let on = f.node.type_condition.node.on.node.as_str();
                            let c = self.set(&f.node.selection_set.node, on, fragments);
                            fragments.pop();
                            c
                        }
                        _ => Cost::default(),
                    }
                }
            };
            total.depth = total.depth.max(c.depth);
            total.complexity = total.complexity.saturating_add(c.complexity);
        }
        total
    }

    /// A `first` argument's value: a literal or a variable; the default page size when
    /// absent or not a number (the resolver refuses a bad one).
    fn count(&self, value: &Value) -> u64 {
        let number = match value {
            Value::Variable(name) => match self.variables.get(name) {
                Some(ConstValue::Number(n)) => n.as_u64(),
                _ => None,
            },
            Value::Number(n) => n.as_u64(),
            _ => None,
        };
        number
            .unwrap_or(crate::paging::DEFAULT_PAGE as u64)
            .min(crate::paging::MAX_PAGE as u64)
            .max(1)
    }
}

/// `[Order!]!` → `Order`.
fn named_type(ty: &str) -> &str {
    ty.trim_matches(|c| c == '[' || c == ']' || c == '!')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cost of `query` as the extension sees it, against the real schema.
    fn of_with(query: &str, variables: serde_json::Value) -> Cost {
        struct Measure(Arc<std::sync::Mutex<Option<Cost>>>);
        impl ExtensionFactory for Measure {
            fn create(&self) -> Arc<dyn Extension> {
                Arc::new(Measure(self.0.clone()))
            }
        }
        #[async_graphql::async_trait::async_trait]
        impl Extension for Measure {
            async fn parse_query(
                &self,
                ctx: &ExtensionContext<'_>,
                query: &str,
                variables: &Variables,
                next: NextParseQuery<'_>,
            ) -> ServerResult<ExecutableDocument> {
                let document = next.run(ctx, query, variables).await?;
                *self.0.lock().unwrap() =
                    Some(cost(&document, variables, &ctx.schema_env.registry));
                Err(ServerError::new("measured: run no further", None))
            }
        }
        let seen = Arc::default();
        let schema = super::super::builder()
            .extension(Measure(Arc::clone(&seen)))
            .finish();
        let request = async_graphql::Request::new(query).variables(Variables::from_json(variables));
        let response = futures::executor::block_on(schema.execute(request));
        let measured = seen.lock().unwrap().take();
        measured.unwrap_or_else(|| panic!("not measured: {:?}", response.errors))
    }

    fn of(query: &str) -> Cost {
        of_with(query, serde_json::json!({}))
    }

    #[test]
    fn lists_multiply_their_selection() {
        let one = "orders(first: 100) { edges { node { number items { sku } } } }";
        assert_eq!(
            of(&format!("{{ {one} }}")),
            Cost {
                depth: 5,
                complexity: 1 + 100 * 5
            }
        );
        let many: String = (0..300).map(|i| format!("a{i}: {one} ")).collect();
        assert_eq!(of(&format!("{{ {many} }}")).complexity, 300 * 501);
        // without `first`: the default page
        assert_eq!(of("{ orders { totalCount } }").complexity, 1 + 50);
    }

    #[test]
    fn variables_count_too() {
        let q = "query($n: Int) { jobs(first: $n) { edges { node { id } } } }";
        assert_eq!(
            of_with(q, serde_json::json!({"n": 400})).complexity,
            1 + 400 * 3
        );
    }

    #[test]
    fn introspection_is_not_counted() {
        let q = "{ __schema { types { name fields { name type { kind ofType { kind ofType { \
                 kind ofType { kind ofType { kind ofType { kind ofType { kind ofType { kind \
                 ofType { kind ofType { name } } } } } } } } } } } } } settings { salesOrderType } }";
        assert_eq!(
            of(q),
            Cost {
                depth: 2,
                complexity: 3
            }
        );
    }

    #[test]
    fn fragments_count_where_they_are_spread() {
        let q = "query { orders(first: 10) { edges { ...E } } a: orders(first: 10) { edges { ...E } } } \
                 fragment E on OrderEdge { node { number } }";
        assert_eq!(
            of(q),
            Cost {
                depth: 4,
                complexity: 2 * (1 + 10 * 3)
            }
        );
    }
}

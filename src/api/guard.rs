//! Refuses every mutation while the store is unhealthy (a flush to disk failed): a write now
//! would be visible in memory but might never reach the disk, so nothing is taken until the
//! service is restarted. Queries and subscriptions still answer.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{ServerError, ServerResult, Variables};

use super::error::ApiError;
use crate::store::Store;

/// The extension (one per schema).
pub struct WriteGuard(pub Store);

impl ExtensionFactory for WriteGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Guard(self.0.clone()))
    }
}

struct Guard(Store);

#[async_graphql::async_trait::async_trait]
impl Extension for Guard {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if let Err(e) = self.0.check_writable()
            && has_mutation(&document)
        {
            let error = async_graphql::Error::from(ApiError::from(e));
            return Err(ServerError {
                extensions: error.extensions,
                ..ServerError::new(error.message, None)
            });
        }
        Ok(document)
    }
}

fn has_mutation(document: &ExecutableDocument) -> bool {
    match &document.operations {
        DocumentOperations::Single(op) => op.node.ty == OperationType::Mutation,
        DocumentOperations::Multiple(ops) => {
            ops.values().any(|op| op.node.ty == OperationType::Mutation)
        }
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptySubscription, Object, Schema};

    use super::*;

    struct Q;
    #[Object]
    impl Q {
        async fn ping(&self) -> bool {
            true
        }
    }
    struct M;
    #[Object]
    impl M {
        async fn write(&self) -> bool {
            true
        }
    }

    #[tokio::test]
    async fn mutations_are_refused_once_a_flush_failed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::with_failing_flush(dir.path(), "No space left on device");
        let schema = Schema::build(Q, M, EmptySubscription)
            .extension(WriteGuard(store.clone()))
            .finish();
        assert!(schema.execute("mutation { write }").await.errors.is_empty());
        assert!(store.flush().await.is_err());
        let refused = schema.execute("mutation { write }").await;
        let e = &refused.errors[0];
        assert!(e.message.contains("unhealthy"), "{}", e.message);
        assert!(
            e.message.contains("No space left on device"),
            "{}",
            e.message
        );
        let code = e.extensions.as_ref().and_then(|x| x.get("code")).cloned();
        assert_eq!(code, Some(async_graphql::Value::from("INTERNAL")));
        assert!(schema.execute("{ ping }").await.errors.is_empty());
        assert!(
            !schema
                .execute("query A { ping } mutation B { write }")
                .await
                .errors
                .is_empty()
        );
    }
}

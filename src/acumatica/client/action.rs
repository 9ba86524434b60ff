//! Actions: `POST /{Entity}/{Action}` with `{"entity": …}` (ReleasePayment, CancelSalesOrder,
//! …). A 204 is done; a 202 is a long-running operation whose `Location` is polled (GET, once a
//! second) until it answers 204. An action changes data, so a lost answer is ambiguous: the
//! caller reads the record's state before running it again.

use std::time::Duration;

use reqwest::{Method, StatusCode};

use super::{Client, Op};
use crate::acumatica::entities::Entity;
use crate::acumatica::error::{Error, PermanentReason, TransientReason};
use crate::acumatica::query::Query;

/// How many times a long-running action's status is read before the wait is given up.
const MAX_POLLS: u32 = 120;

impl Client {
    /// Runs action `name` of entity `E` on the record `entity` names (by key fields or `id`)
    /// and waits for it to finish.
    pub async fn action<E: Entity>(&self, name: &str, entity: &E) -> Result<(), Error> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::config(format!("\"{name}\" is not an action name")));
        }
        let body = serde_json::to_vec(&serde_json::json!({ "entity": entity }))
            .map_err(|e| Error::config(format!("cannot encode {}: {e}", E::NAME)))?;
        let op = Op::Write {
            insert_only: false,
            update_only: false,
        };
        let answer = self
            .call(op, |base| {
                self.inner
                    .http
                    .request(
                        Method::POST,
                        self.entity_url(base, E::NAME, &format!("/{name}"), &Query::new()),
                    )
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        if answer.status != StatusCode::ACCEPTED {
            return Ok(());
        }
        let location = answer
            .headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::permanent(
                    PermanentReason::Protocol,
                    format!("Acumatica answered 202 to {name} without a Location to follow"),
                    Some(202),
                )
            })?;
        for _ in 0..MAX_POLLS {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let status = self
                .call(Op::Read, |base| {
                    let base_url = base.join("");
                    // Only a status URL of the same site is followed.
                    let url = base_url
                        .join(&location)
                        .ok()
                        .filter(|u| u.origin() == base_url.origin())
                        .unwrap_or_else(|| base.join("entity/status-of-another-site"));
                    self.inner.http.get(url)
                })
                .await?;
            if status.status != StatusCode::ACCEPTED {
                return Ok(());
            }
        }
        Err(Error::Transient {
            reason: TransientReason::Server,
            message: format!("{name} was still running after {MAX_POLLS} seconds"),
            retry_after: None,
            ambiguous: true,
        })
    }
}

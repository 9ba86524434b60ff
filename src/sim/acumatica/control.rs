//! The simulator's own control API, under `/_sim/` (no authentication: the simulator is a test
//! and demo tool that listens on loopback):
//!
//! | request | what |
//! |---|---|
//! | `GET /_sim/counters`, `DELETE /_sim/counters` | request counters (by method and entity, with arrival times), reset |
//! | `GET /_sim/faults`, `PUT /_sim/faults` | the faults and options in force (JSON; fields left out take their defaults) |
//! | `POST /_sim/expire-tokens` | every access token issued so far expires now |
//! | `POST /_sim/revoke-refresh-tokens` | every refresh token issued so far is revoked |
//! | `GET /_sim/records/{entity}`, `DELETE /_sim/records/{entity}` | stored records in plain form (no `{"value":…}` wrappers), or remove them |
//! | `POST /_sim/shipments` | `{"orderType", "orderNbr", "trackingNumbers": [..], "confirmed": true}`: a shipment of the whole order (201 with it; 409 for a missing, canceled or on-hold order) |
//! | `POST /_sim/reset` | records back to the seed (or empty with `--empty`), tokens and counters cleared |

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::Shared;
use super::lifecycle::{self, NewShipment};
use super::state::Faults;

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/counters", get(counters).delete(reset_counters))
        .route("/_sim/faults", get(faults).put(set_faults))
        .route("/_sim/expire-tokens", post(expire_tokens))
        .route("/_sim/revoke-refresh-tokens", post(revoke_refresh_tokens))
        .route(
            "/_sim/records/{entity}",
            get(records).delete(delete_records),
        )
        .route("/_sim/reset", post(reset))
        .route("/_sim/shipments", post(ship))
}

async fn counters(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    Json(s.lock().counters.clone())
}

async fn reset_counters(State(s): State<Arc<Shared>>) -> StatusCode {
    s.lock().reset_counters();
    StatusCode::NO_CONTENT
}

async fn faults(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    Json(s.lock().faults.clone())
}

async fn set_faults(State(s): State<Arc<Shared>>, Json(f): Json<Faults>) -> impl IntoResponse {
    s.lock().faults = f.clone();
    Json(f)
}

async fn expire_tokens(State(s): State<Arc<Shared>>) -> StatusCode {
    s.expire_access_tokens();
    StatusCode::NO_CONTENT
}

async fn revoke_refresh_tokens(State(s): State<Arc<Shared>>) -> StatusCode {
    s.lock().refresh.clear();
    StatusCode::NO_CONTENT
}

async fn records(State(s): State<Arc<Shared>>, Path(entity): Path<String>) -> impl IntoResponse {
    Json(s.lock().records.get(&entity).cloned().unwrap_or_default())
}

async fn delete_records(State(s): State<Arc<Shared>>, Path(entity): Path<String>) -> StatusCode {
    s.lock().records.remove(&entity);
    StatusCode::NO_CONTENT
}

/// Creates (and confirms) a shipment of an order, as the warehouse would.
async fn ship(State(s): State<Arc<Shared>>, Json(new): Json<NewShipment>) -> Response {
    match lifecycle::ship(&mut s.lock(), &new) {
        Ok(shipment) => (StatusCode::CREATED, Json(shipment)).into_response(),
        Err(lifecycle::Refused(msg)) => (
            StatusCode::CONFLICT,
            Json(serde_json::json!({"message": msg})),
        )
            .into_response(),
    }
}

async fn reset(State(s): State<Arc<Shared>>) -> StatusCode {
    s.reset();
    StatusCode::NO_CONTENT
}

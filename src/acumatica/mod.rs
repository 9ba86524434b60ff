//! The Acumatica client: the bridge's only way to talk to Acumatica ERP, through its
//! contract-based REST API (the team's Acumatica API notes describe how that API really
//! behaves, and this module follows it where it is odd).
//!
//! - [`Client`] (built from a [`ClientConfig`]) signs in with OAuth, keeps tokens fresh,
//!   discovers endpoints, and reads and writes typed [`entities`];
//! - [`Error`] classifies every failure for the job layer (transient, unreachable, permanent,
//!   not found, already exists; ambiguous writes);
//! - [`Filter`] and [`Query`] build `$filter`, `$select`, `$expand`, `$top` and `$skip`;
//! - [`schema`] holds the official field names the entities (and the simulator) are checked
//!   against.
//!
//! The simulator in [`crate::sim::acumatica`] serves the same API for tests and demos.

pub mod auth;
pub mod base_url;
pub mod client;
pub mod endpoints;
pub mod entities;
pub mod error;
pub mod filter;
pub mod limiter;
pub mod query;
pub mod schema;
pub mod value;

pub use crate::domain::secret::Secret;
pub use auth::Tokens;
pub use base_url::BaseUrl;
pub use client::{Client, ClientConfig, MAX_ANSWER_BYTES, MAX_PAGES, PutMode};
pub use endpoints::{EndpointRef, Endpoints};
pub use entities::{
    Address, Contact, Customer, CustomerClass, DocContact, Entity, Invoice, InvoiceDetail,
    ItemClass, Payment, PaymentMethod, PaymentOrderDetail, SalesOrder, SalesOrderDetail,
    SalesOrderPayment, SalesOrderShipment, ShippingSettings, StockItem, Subaccount, TaxCategory,
    Totals, Warehouse,
};
pub use entities::{Shipment, ShipmentDetail, ShipmentOrderDetail, ShipmentPackage};
pub use error::{Error, ErrorKind, PermanentReason, TransientReason};
pub use filter::{Filter, Literal};
pub use query::Query;

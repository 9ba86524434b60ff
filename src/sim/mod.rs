//! Stand-ins for the outside systems, so that everything can be tested and demonstrated
//! without them. [`acumatica`] is the Acumatica simulator (`acumatica-bridge sim`), [`xcart`]
//! the X-Cart store simulator (`acumatica-bridge xcart-sim`).

pub mod acumatica;
mod server;
pub mod xcart;
